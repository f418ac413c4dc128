import { refusal } from '../../domain/refusals.js';
import { invalidField } from '../request-decoding.js';
import type { OrderTypeCode, SideCode, StpCode, TifCode } from '../../domain/events.js';
import { CLIENT_ORDER_ID_PATTERN, checkOrderStatic, type OrderInput } from '../../domain/matching/order-input.js';
import type { PlaceOrderRequest } from '../../gen/tierbook/v1/order_service_pb.js';
import { OrderType, SelfTradePrevention, Side, TimeInForce } from '../../gen/tierbook/v1/types_pb.js';
import type { InstrumentRegistry } from './instruments-store.js';
import type { OrderRef } from './order-engine.js';

/**
 * Decoding and validation of order requests. Every refusal names the field, so a client can
 * fix the request from the message alone.
 */


const SIDES: Partial<Record<Side, SideCode>> = { [Side.BUY]: 'BUY', [Side.SELL]: 'SELL' };
const TYPES: Partial<Record<OrderType, OrderTypeCode>> = { [OrderType.LIMIT]: 'LIMIT', [OrderType.MARKET]: 'MARKET' };
const TIFS: Partial<Record<TimeInForce, TifCode>> = {
  [TimeInForce.GTC]: 'GTC', [TimeInForce.IOC]: 'IOC', [TimeInForce.FOK]: 'FOK',
};
const STPS: Partial<Record<SelfTradePrevention, StpCode>> = {
  [SelfTradePrevention.UNSPECIFIED]: 'CANCEL_NEWEST',
  [SelfTradePrevention.CANCEL_NEWEST]: 'CANCEL_NEWEST',
  [SelfTradePrevention.CANCEL_OLDEST]: 'CANCEL_OLDEST',
  [SelfTradePrevention.CANCEL_BOTH]: 'CANCEL_BOTH',
};

/** A client order id field: '' (none) or 1..64 of [A-Za-z0-9._:-]. */
export function checkClientOrderId(coid: string, field = 'client_order_id'): void {
  if (coid !== '' && !CLIENT_ORDER_ID_PATTERN.test(coid)) {
    throw invalidField(field, 'must be 1 to 64 characters of A-Z a-z 0-9 . _ : -');
  }
}

/** Validates a PlaceOrderRequest against the registry and applies the defaults. */
export function toOrderInput(req: PlaceOrderRequest, registry: InstrumentRegistry): OrderInput {
  if (req.symbol === '') throw invalidField('symbol', 'is required');
  const inst = registry.get(req.symbol);
  if (!inst) throw refusal('UNKNOWN_SYMBOL', { symbol: req.symbol });
  const side = SIDES[req.side];
  if (!side) throw invalidField('side', 'must be SIDE_BUY or SIDE_SELL');
  const type = TYPES[req.type];
  if (!type) throw invalidField('type', 'must be ORDER_TYPE_LIMIT or ORDER_TYPE_MARKET');
  let tif: TifCode | undefined;
  if (req.timeInForce === TimeInForce.UNSPECIFIED) tif = type === 'LIMIT' ? 'GTC' : 'IOC';
  else tif = TIFS[req.timeInForce];
  if (!tif) throw invalidField('time_in_force', `unknown value ${req.timeInForce}`);
  const stp = STPS[req.selfTradePrevention];
  if (!stp) throw invalidField('self_trade_prevention', `unknown value ${req.selfTradePrevention}`);
  checkClientOrderId(req.clientOrderId);
  const input: OrderInput = {
    symbol: inst.symbol, side, type, tif, price: req.priceTicks, qty: req.quantityLots,
    coid: req.clientOrderId, postOnly: req.postOnly, stp,
  };
  checkOrderStatic(input, inst);
  return input;
}

/** Exactly one of order_id and client_order_id. */
export function toOrderRef(req: { orderId: string; clientOrderId: string }): OrderRef {
  if (req.orderId !== '' && req.clientOrderId !== '') {
    throw invalidField('order_id', 'give either order_id or client_order_id, not both');
  }
  if (req.orderId !== '') {
    if (req.orderId.length > 200) throw invalidField('order_id', 'is too long');
    return { orderId: req.orderId };
  }
  if (req.clientOrderId === '') throw invalidField('order_id', 'one of order_id or client_order_id is required');
  checkClientOrderId(req.clientOrderId);
  return { coid: req.clientOrderId };
}
