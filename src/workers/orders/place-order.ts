import { create, toBinary } from '@bufbuild/protobuf';
import { ApiError, toWireError } from '../../domain/errors.js';
import type { OrderInput } from '../../domain/matching/order-input.js';
import {
  OrderErrorSchema, PlaceOrderRequestSchema, PlaceOrderResponseSchema, PlaceOrderResultSchema,
  PlaceOrdersRequestSchema, PlaceOrdersResponseSchema, type PlaceOrderResponse, type PlaceOrderResult,
} from '../../gen/tierbook/v1/order_service_pb.js';
import type { UnaryHandler } from '../handler.js';
import type { CallTask } from '../task.js';
import { orderContext } from './order-context.js';
import type { EngineResult, OrderEngine } from './order-engine.js';
import { toProtoFill, toProtoOrder } from './proto-mapping.js';
import { decodeRequest, invalidField } from '../request-decoding.js';
import { toOrderInput } from './request-validation.js';

/** The API response for a placed order: the order after matching and its (taker) fills. */
export function placeResponse(r: EngineResult): PlaceOrderResponse {
  return create(PlaceOrderResponseSchema, {
    order: toProtoOrder(r.order),
    fills: r.fills.map((f) => toProtoFill(f, 'taker')),
  });
}

/** PlaceOrder: validate, then one book script call. */
export const placeOrder: UnaryHandler = async (ctx, call) => {
  const req = decodeRequest(PlaceOrderRequestSchema, call.payload);
  const { engine, registry } = await orderContext(ctx);
  const input = toOrderInput(req, registry);
  const result = await engine.place(call.accountId, input, call.traceparent);
  return toBinary(PlaceOrderResponseSchema, placeResponse(result));
};

/**
 * PlaceOrders: every order gets its own result, in request order. Orders of one symbol run
 * one after another (a later order may trade with an earlier one); different books run
 * concurrently, since nothing orders them against each other.
 */
export const placeOrders: UnaryHandler = async (ctx, call) => {
  const req = decodeRequest(PlaceOrdersRequestSchema, call.payload);
  const max = ctx.config.orders.maxBatchOrders;
  if (req.orders.length === 0) throw invalidField('orders', 'at least one order is required');
  if (req.orders.length > max) {
    throw new ApiError('BATCH_TOO_LARGE', `orders: ${req.orders.length} orders exceed the batch limit of ${max}`, { field: 'orders' });
  }
  const { engine, registry } = await orderContext(ctx);
  const results: PlaceOrderResult[] = new Array(req.orders.length);
  const chains = new Map<string, Promise<void>>();
  req.orders.forEach((o, i) => {
    let input: OrderInput;
    try {
      input = toOrderInput(o, registry);
    } catch (err) {
      results[i] = errorResult(err, i);
      return;
    }
    const prev = chains.get(input.symbol) ?? Promise.resolve();
    chains.set(input.symbol, prev.then(() => placeOne(engine, call, input, i, results)));
  });
  await Promise.all(chains.values());
  return toBinary(PlaceOrdersResponseSchema, create(PlaceOrdersResponseSchema, { results }));
};

async function placeOne(engine: OrderEngine, call: CallTask, input: OrderInput, i: number, out: PlaceOrderResult[]) {
  try {
    const placed = await engine.place(call.accountId, input, call.traceparent);
    out[i] = create(PlaceOrderResultSchema, { result: { case: 'placed', value: placeResponse(placed) } });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err; // Redis down etc.: the whole call fails
    out[i] = errorResult(err, i);
  }
}

function errorResult(err: unknown, i: number): PlaceOrderResult {
  if (!(err instanceof ApiError)) throw err;
  const w = toWireError(err);
  const message = `orders[${i}].${w.message}`;
  return create(PlaceOrderResultSchema, {
    result: { case: 'error', value: create(OrderErrorSchema, { code: w.code, reason: w.reason, message, metadata: w.metadata }) },
  });
}
