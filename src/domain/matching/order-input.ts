import { ApiError } from '../errors.js';
import { refusal } from '../refusals.js';
import type { OrderTypeCode, SideCode, StpCode, TifCode } from '../events.js';
import type { Instrument } from './instrument.js';

/**
 * A new order after decoding and defaulting: what the matcher (Lua or the reference model)
 * receives. The API's enums are turned into the event contract's codes here, once.
 */
export interface OrderInput {
  symbol: string;
  side: SideCode;
  type: OrderTypeCode;
  tif: TifCode;
  /** Limit price in ticks; 0n for MARKET. */
  price: bigint;
  qty: bigint;
  /** The caller's idempotency key; '' for none. */
  coid: string;
  postOnly: boolean;
  stp: StpCode;
}

/** Client order ids: 1 to 64 characters of [A-Za-z0-9._:-] (AIP-155 style keys). */
export const CLIENT_ORDER_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * The canonical content of an order, for idempotency: a retry with the same client order id
 * must carry the same fingerprint. Defaults are already applied, so spelling out a default
 * (TIF GTC on a limit order) is the same content as leaving it unset.
 */
export function fingerprint(o: OrderInput): string {
  return [o.symbol, o.side, o.type, o.tif, o.price, o.qty, o.postOnly ? 1 : 0, o.stp].join('|');
}

/** The symbol a fingerprint was made for (its first field). */
export function fingerprintSymbol(fp: string): string {
  return fp.slice(0, fp.indexOf('|'));
}

function invalid(field: string, message: string): ApiError {
  return new ApiError('INVALID_FIELD', `${field}: ${message}`, { field });
}

/**
 * Checks an order against its instrument's static rules (grids, size range, combinations of
 * type, time in force and post-only). Dynamic risk (band, notional, position) is checked in
 * the matcher, atomically with the book it depends on.
 */
export function checkOrderStatic(o: OrderInput, inst: Instrument): void {
  if (o.type === 'MARKET') {
    if (o.price !== 0n) throw invalid('price_ticks', 'must be zero for a MARKET order');
    if (o.tif === 'GTC') throw invalid('time_in_force', 'a MARKET order cannot rest: use IOC or FOK');
    if (o.postOnly) throw invalid('post_only', 'a MARKET order always takes liquidity');
  } else {
    if (o.price <= 0n) throw invalid('price_ticks', `must be positive for a LIMIT order, got ${o.price}`);
    if (o.price % inst.tickSize !== 0n) {
      throw new ApiError('PRICE_OFF_TICK', `price_ticks: ${o.price} is not a multiple of the tick size ${inst.tickSize} of ${inst.symbol}`, { field: 'price_ticks' });
    }
    if (o.price > inst.maxPriceTicks) throw invalid('price_ticks', `must be at most ${inst.maxPriceTicks} for ${inst.symbol}`);
    if (o.postOnly && o.tif !== 'GTC') throw invalid('post_only', 'only a GTC order can be post-only');
  }
  checkQuantity(o.qty, inst, 'quantity_lots');
}

/** Quantity rules shared by new orders and amends. */
export function checkQuantity(qty: bigint, inst: Instrument, field: string): void {
  if (qty <= 0n) throw invalid(field, `must be positive, got ${qty}`);
  if (qty % inst.lotSize !== 0n) {
    throw new ApiError('QUANTITY_OFF_LOT', `${field}: ${qty} is not a multiple of the lot size ${inst.lotSize} of ${inst.symbol}`, { field });
  }
  if (qty < inst.minQty || qty > inst.maxQty) {
    throw refusal('QUANTITY_OUT_OF_RANGE', {
      field, quantity_lots: String(qty), min_quantity_lots: String(inst.minQty), max_quantity_lots: String(inst.maxQty),
    });
  }
}
