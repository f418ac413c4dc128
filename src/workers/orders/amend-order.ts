import { create, toBinary } from '@bufbuild/protobuf';
import { ApiError } from '../../domain/errors.js';
import { checkQuantity } from '../../domain/matching/order-input.js';
import { AmendOrderRequestSchema, AmendOrderResponseSchema } from '../../gen/tierbook/v1/order_service_pb.js';
import type { UnaryHandler } from '../handler.js';
import { orderContext } from './order-context.js';
import { notFound } from './order-engine.js';
import { toProtoFill, toProtoOrder } from './proto-mapping.js';
import { decodeRequest, invalidField } from '../request-decoding.js';
import { toOrderRef } from './request-validation.js';

/**
 * AmendOrder: static checks of the new values against the order's instrument here, then the
 * amend script (state checks, risk, re-queue and matching) in one atomic step.
 */
export const amendOrder: UnaryHandler = async (ctx, call) => {
  const req = decodeRequest(AmendOrderRequestSchema, call.payload);
  const ref = toOrderRef(req);
  if (req.newPriceTicks === 0n && req.newQuantityLots === 0n) {
    throw invalidField('new_price_ticks', 'set new_price_ticks or new_quantity_lots (zero keeps a value)');
  }
  if (req.newPriceTicks < 0n) throw invalidField('new_price_ticks', 'must not be negative');
  if (req.newQuantityLots < 0n) throw invalidField('new_quantity_lots', 'must not be negative');
  const { engine, registry } = await orderContext(ctx);
  const symbol = await engine.bookOf(call.accountId, ref, 'amended');
  const inst = registry.get(symbol);
  if (!inst) throw notFound(ref);
  if (req.newPriceTicks !== 0n) {
    if (req.newPriceTicks % inst.tickSize !== 0n) {
      throw new ApiError('PRICE_OFF_TICK', `new_price_ticks: ${req.newPriceTicks} is not a multiple of the tick size ${inst.tickSize} of ${symbol}`, { field: 'new_price_ticks' });
    }
    if (req.newPriceTicks > inst.maxPriceTicks) throw invalidField('new_price_ticks', `must be at most ${inst.maxPriceTicks} for ${symbol}`);
  }
  if (req.newQuantityLots !== 0n) checkQuantity(req.newQuantityLots, inst, 'new_quantity_lots');
  const r = await engine.amend(call.accountId, ref, req.newPriceTicks, req.newQuantityLots, symbol, call.traceparent);
  return toBinary(AmendOrderResponseSchema, create(AmendOrderResponseSchema, {
    order: toProtoOrder(r.order),
    fills: r.fills.map((f) => toProtoFill(f, 'taker')),
  }));
};
