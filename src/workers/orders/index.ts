import { ApiError } from '../../domain/errors.js';
import { lostConnection } from '../../shared/redis.js';
import type { UnaryHandler } from '../handler.js';
import { amendOrder } from './amend-order.js';
import { cancelOrder } from './cancel-order.js';
import { getOrder } from './get-order.js';
import { listOrdersHandler } from './list-orders.js';
import { placeOrder, placeOrders } from './place-order.js';

export { publishInstruments, loadInstrumentsFile } from './instruments-store.js';

const SERVICE = '/tierbook.v1.OrderService';

/** ioredis failures that mean "Redis unreachable", not "bug": the client may retry them. */
function isConnectionError(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: string };
  return e?.name === 'MaxRetriesPerRequestError' || e?.code === 'ECONNREFUSED' || /Connection is closed|Stream isn't writeable/.test(e?.message ?? '');
}

/** Redis' refusal of a write at maxmemory ("OOM command not allowed when used memory > 'maxmemory'"). */
function isOutOfMemory(err: unknown): boolean {
  return /^OOM /.test((err as { message?: string })?.message ?? '');
}

/**
 * Maps a lost Redis connection to BACKEND_UNAVAILABLE (retryable). A mutating call may or
 * may not have run; a retry with the same client_order_id is safe, which the message says.
 */
function guarded(h: UnaryHandler): UnaryHandler {
  return async (ctx, call) => {
    if (lostConnection(ctx.redis)) {
      // Nothing is sent: the call certainly did not run, and the client hears it at once.
      throw new ApiError('BACKEND_UNAVAILABLE', 'the order store is unavailable; nothing was changed, retry (with the same client_order_id to stay idempotent)');
    }
    try {
      return await h(ctx, call);
    } catch (err) {
      if (!(err instanceof ApiError) && isOutOfMemory(err)) {
        // Redis refuses writes at maxmemory (noeviction): nothing was changed, the sync keeps
        // draining (reads and XACK still work), and the call may be retried.
        ctx.logger.error({ err, method: call.method }, 'redis is at maxmemory and refuses writes');
        throw new ApiError('BACKEND_UNAVAILABLE', 'the order store is out of memory and refuses new writes; nothing was changed, retry later');
      }
      if (!(err instanceof ApiError) && isConnectionError(err)) {
        ctx.logger.warn({ err, method: call.method }, 'redis unavailable');
        throw new ApiError('BACKEND_UNAVAILABLE', 'the order store is unavailable; retry (with the same client_order_id to stay idempotent)');
      }
      throw err;
    }
  };
}

/** The OrderService unary handlers by full gRPC method path (StreamExecutions is in the gateway). */
export const orderHandlers: Record<string, UnaryHandler> = {
  [`${SERVICE}/PlaceOrder`]: guarded(placeOrder),
  [`${SERVICE}/PlaceOrders`]: guarded(placeOrders),
  [`${SERVICE}/CancelOrder`]: guarded(cancelOrder),
  [`${SERVICE}/AmendOrder`]: guarded(amendOrder),
  [`${SERVICE}/GetOrder`]: guarded(getOrder),
  [`${SERVICE}/ListOrders`]: guarded(listOrdersHandler),
};
