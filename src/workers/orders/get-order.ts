import { create, toBinary } from '@bufbuild/protobuf';
import { GetOrderRequestSchema, GetOrderResponseSchema } from '../../gen/tierbook/v1/order_service_pb.js';
import type { UnaryHandler } from '../handler.js';
import { orderContext } from './order-context.js';
import { toProtoOrder } from './proto-mapping.js';
import { decodeRequest } from '../request-decoding.js';
import { toOrderRef } from './request-validation.js';

/** GetOrder: one of the caller's orders; another account's order is simply NOT_FOUND. */
export const getOrder: UnaryHandler = async (ctx, call) => {
  const req = decodeRequest(GetOrderRequestSchema, call.payload);
  const ref = toOrderRef(req);
  const { engine } = await orderContext(ctx);
  const order = await engine.get(call.accountId, ref);
  return toBinary(GetOrderResponseSchema, create(GetOrderResponseSchema, { order: toProtoOrder(order) }));
};
