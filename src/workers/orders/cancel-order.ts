import { create, toBinary } from '@bufbuild/protobuf';
import { CancelOrderRequestSchema, CancelOrderResponseSchema } from '../../gen/tierbook/v1/order_service_pb.js';
import type { UnaryHandler } from '../handler.js';
import { orderContext } from './order-context.js';
import { toProtoOrder } from './proto-mapping.js';
import { decodeRequest } from '../request-decoding.js';
import { toOrderRef } from './request-validation.js';

/** CancelOrder: by order id or client order id; a finished order gives ORDER_NOT_WORKING. */
export const cancelOrder: UnaryHandler = async (ctx, call) => {
  const req = decodeRequest(CancelOrderRequestSchema, call.payload);
  const ref = toOrderRef(req);
  const { engine } = await orderContext(ctx);
  const r = await engine.cancel(call.accountId, ref, call.traceparent);
  return toBinary(CancelOrderResponseSchema, create(CancelOrderResponseSchema, { order: toProtoOrder(r.order) }));
};
