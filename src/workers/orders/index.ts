import type { UnaryHandler } from '../handler.js';
import { redisGuarded } from '../redis-guard.js';
import { amendOrder } from './amend-order.js';
import { cancelOrder } from './cancel-order.js';
import { getOrder } from './get-order.js';
import { listOrdersHandler } from './list-orders.js';
import { placeOrder, placeOrders } from './place-order.js';

export { publishInstruments, loadInstrumentsFile } from './instruments-store.js';

const SERVICE = '/tierbook.v1.OrderService';

const guarded = (h: UnaryHandler) => redisGuarded(h, { store: 'the order store', retryHint: ' (with the same client_order_id to stay idempotent)' });

/** The OrderService unary handlers by full gRPC method path (StreamExecutions is in the gateway). */
export const orderHandlers: Record<string, UnaryHandler> = {
  [`${SERVICE}/PlaceOrder`]: guarded(placeOrder),
  [`${SERVICE}/PlaceOrders`]: guarded(placeOrders),
  [`${SERVICE}/CancelOrder`]: guarded(cancelOrder),
  [`${SERVICE}/AmendOrder`]: guarded(amendOrder),
  [`${SERVICE}/GetOrder`]: guarded(getOrder),
  [`${SERVICE}/ListOrders`]: guarded(listOrdersHandler),
};
