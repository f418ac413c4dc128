/**
 * The event contract between the matching engine (producer, Lua in Redis) and its consumers
 * (the Postgres sync thread, StreamExecutions, analytics invalidation).
 *
 * Every book has one Redis stream, `{bk:<SYMBOL>}:events`, written by the same Lua script
 * that changes the book, in the same atomic step (DESIGN invariant 1). Each stream entry has
 * two fields, `k` (the EventKind) and `d` (the JSON document below), and a third, `tp`, only
 * when the call that caused it carried a W3C traceparent (its normalized value; the sync's
 * log lines and dead letters name that trace). Readers ignore fields they do not know. All integers
 * that can be money or quantities are decimal strings in JSON, because Lua's cjson prints
 * numbers with 14 significant digits and JavaScript numbers are doubles; parse them with
 * BigInt. Times are Unix epoch milliseconds as strings (from Redis TIME, so every gateway
 * agrees on the clock).
 */

export const EVENT_STREAM_SUFFIX = 'events';

/** The stream key of a symbol's book: the hash tag keeps it in the book's cluster slot. */
export function eventStreamKey(symbol: string): string {
  return `{bk:${symbol}}:${EVENT_STREAM_SUFFIX}`;
}

export type EventKind = 'order' | 'fill';

/**
 * What happened to an order: one order event per change, except the changes a fill makes
 * (FillEvent.orders carries those; 'partially_filled' and 'filled' are in streams written
 * before it did).
 */
export type OrderChange =
  | 'accepted'
  | 'partially_filled'
  | 'filled'
  | 'canceled'
  | 'amended'
  | 'rejected'
  | 'expired';

export type SideCode = 'BUY' | 'SELL';
export type OrderTypeCode = 'LIMIT' | 'MARKET';
export type TifCode = 'GTC' | 'IOC' | 'FOK';
export type StatusCode =
  | 'NEW'
  | 'PARTIALLY_FILLED'
  | 'FILLED'
  | 'CANCELED'
  | 'EXPIRED'
  | 'REJECTED';
export type StpCode = 'CANCEL_NEWEST' | 'CANCEL_OLDEST' | 'CANCEL_BOTH';

/** The full state of an order after a change (not a delta: consumers can upsert it). */
export interface OrderState {
  id: string;
  coid: string;
  acct: string;
  sym: string;
  side: SideCode;
  type: OrderTypeCode;
  tif: TifCode;
  px: string; // limit price in ticks, "0" for market
  qty: string; // ordered lots
  filled: string; // filled lots
  notional: string; // sum of fill price * fill lots
  status: StatusCode;
  reason: string; // UPPER_SNAKE for CANCELED/EXPIRED/REJECTED, else ""
  post: boolean;
  stp: StpCode;
  ctime: string; // epoch ms
  utime: string; // epoch ms
  ver: string; // grows by one with every change of this order
  seq: string; // book sequence of the order's current place in the queue (time priority)
}

/** An account's position in one symbol after a change. */
export interface PositionState {
  acct: string;
  sym: string;
  qty: string; // signed lots
  cost: string; // signed cost basis of the open quantity, in ticks*lots
  realized: string; // realized PnL in ticks*lots
  ver: string; // grows by one with every change of this position
}

export interface OrderEvent {
  change: OrderChange;
  order: OrderState;
}

/** One execution between a resting (maker) and an incoming (taker) order. */
export interface FillEvent {
  id: string; // unique fill id
  sym: string;
  px: string; // the maker's price, ticks
  qty: string; // lots
  time: string; // epoch ms
  maker: { order: string; coid: string; acct: string; side: SideCode };
  taker: { order: string; coid: string; acct: string; side: SideCode };
  positions: PositionState[]; // maker's and taker's positions after the fill
  /**
   * [maker, taker] order states right after this fill, each with a version one larger than
   * that order's previous state. StreamExecutions sends them with the FILL, and the sync
   * upserts them like an order event's state (version-guarded): no order event repeats a
   * state a fill carries, so a maker's fills, and a taker's fills up to FILLED or resting,
   * appear only here. Fill events written before this field existed were followed by order
   * events with those states, so either kind of stream lands the same rows.
   */
  orders?: OrderState[];
}

export type TierbookEvent =
  | { kind: 'order'; event: OrderEvent }
  | { kind: 'fill'; event: FillEvent };

/** Decodes one stream entry's field list ([k, v, k, v]) into an event. Throws on garbage. */
export function decodeEvent(fields: string[]): TierbookEvent {
  let kind: string | undefined;
  let doc: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'k') kind = fields[i + 1];
    else if (fields[i] === 'd') doc = fields[i + 1];
  }
  if (doc === undefined || (kind !== 'order' && kind !== 'fill')) {
    throw new Error(`malformed event entry: kind=${String(kind)}`);
  }
  const parsed = JSON.parse(doc) as unknown;
  return kind === 'order'
    ? { kind, event: parsed as OrderEvent }
    : { kind, event: parsed as FillEvent };
}
