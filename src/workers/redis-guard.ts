import { ApiError } from '../domain/errors.js';
import { lostConnection } from '../shared/redis.js';
import type { UnaryHandler } from './handler.js';

/** ioredis failures that mean "Redis unreachable", not "bug": the client may retry them. */
function isConnectionError(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: string };
  return e?.name === 'MaxRetriesPerRequestError' || e?.name === 'ClusterAllFailedError' || e?.code === 'ECONNREFUSED'
    || /Connection is closed|Stream isn't writeable/.test(e?.message ?? '')
    // A Redis Cluster with the slot's master away: the cluster says so, or ioredis gives up.
    || /^(CLUSTERDOWN|TRYAGAIN|MASTERDOWN)|Too many Cluster redirections|Failed to refresh slots cache/.test(e?.message ?? '');
}

/** Redis' refusal of a write at maxmemory ("OOM command not allowed when used memory > 'maxmemory'"). */
function isOutOfMemory(err: unknown): boolean {
  return /^OOM /.test((err as { message?: string })?.message ?? '');
}

/** How a guarded service words its Redis trouble for the client. */
export interface GuardWords {
  /** "the order store", "the analytics store" */
  store: string;
  /** What a retry should carry, e.g. " (with the same client_order_id to stay idempotent)". */
  retryHint: string;
}

/**
 * Maps Redis trouble to BACKEND_UNAVAILABLE (retryable) instead of INTERNAL: a connection
 * already lost (nothing is sent, the client hears it at once), a connection lost mid-call (a
 * mutating call may or may not have run: the retry hint says how to stay safe), and a write
 * refused at maxmemory (noeviction: nothing was changed, and the sync keeps draining).
 */
export function redisGuarded(h: UnaryHandler, words: GuardWords): UnaryHandler {
  return async (ctx, call) => {
    if (lostConnection(ctx.redis)) {
      throw new ApiError('BACKEND_UNAVAILABLE', `${words.store} is unavailable; nothing was changed, retry${words.retryHint}`);
    }
    try {
      return await h(ctx, call);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      if (isOutOfMemory(err)) {
        ctx.logger.error({ err, method: call.method }, 'redis is at maxmemory and refuses writes');
        throw new ApiError('BACKEND_UNAVAILABLE', `${words.store} is out of memory and refuses new writes; nothing was changed, retry later`);
      }
      if (isConnectionError(err)) {
        ctx.logger.warn({ err, method: call.method }, 'redis unavailable');
        throw new ApiError('BACKEND_UNAVAILABLE', `${words.store} is unavailable; retry${words.retryHint}`);
      }
      throw err;
    }
  };
}
