/**
 * Redis key layout of the order path. Everything a book script touches starts with the
 * book's hash tag `{bk:SYM}` (one cluster slot per book); the Lua prelude
 * (src/workers/orders/lua/common.lua) derives the same names from `{bk:SYM}:inst` and the two
 * must change together. Client order id reservations live under the account's own tag
 * `{ac:ACCOUNT}`: they make client order ids unique per account across all books.
 */

/** The hash tag of a symbol's book. */
export function bookTag(symbol: string): string {
  return `{bk:${symbol}}`;
}

/** The instrument hash: the key every book script is called with (KEYS[1]). */
export function instrumentKey(symbol: string): string {
  return `${bookTag(symbol)}:inst`;
}

/** One order's hash. */
export function orderKey(symbol: string, orderId: string): string {
  return `${bookTag(symbol)}:o:${orderId}`;
}

/** Account ids are free-form, so they are length-prefixed (in bytes, as Lua's `#` counts). */
function accountPart(accountId: string): string {
  return `${Buffer.byteLength(accountId, 'utf8')}:${accountId}`;
}

/** The book's record of an account's client order id: fingerprint, order id, first result. */
export function clientOrderKey(symbol: string, accountId: string, coid: string): string {
  return `${bookTag(symbol)}:c:${accountPart(accountId)}:${coid}`;
}

/** Per-account data inside a book: `pos` (position and open lots), `all` and `open` indexes. */
export function accountBookKey(symbol: string, accountId: string, part: 'pos' | 'all' | 'open'): string {
  return `${bookTag(symbol)}:a:${accountPart(accountId)}:${part}`;
}

/**
 * The member of an account's `all`/`open` index: ctime (13 digits), the order id's counter
 * (12 digits), the id; all scored 0 so the set is ordered by bytes, oldest first (the place
 * script's `lx`; ListOrders and the rebuild rebuild it from an order's state).
 */
export function listMember(o: { id: string; ctime: string }): string {
  const counter = o.id.slice(o.id.lastIndexOf(':') + 1);
  return `${o.ctime.padStart(13, '0')}:${counter.padStart(12, '0')}:${o.id}`;
}

/** Book levels: `px:B`/`px:S` sorted sets of prices; `q:B:<px>` queues ordered by sequence. */
export function levelsKey(symbol: string, side: 'B' | 'S'): string {
  return `${bookTag(symbol)}:px:${side}`;
}

/** Resting lots per price level of one side (price -> lots), kept by the matching scripts. */
export function levelQtyKey(symbol: string, side: 'B' | 'S'): string {
  return `${bookTag(symbol)}:lq:${side}`;
}

export function queueKey(symbol: string, side: 'B' | 'S', price: string): string {
  return `${bookTag(symbol)}:q:${side}:${price}`;
}

/** Counters and the last trade price of a book. */
export function bookStateKey(symbol: string): string {
  return `${bookTag(symbol)}:state`;
}

/** The account-wide reservation of a client order id; its value is the order fingerprint. */
export function clientOrderReservationKey(accountId: string, coid: string): string {
  return `{ac:${accountId}}:coid:${coid}`;
}

/** Finished orders of a book by the stream time of their last event (the retention sweeper's queue). */
export function finishedOrdersKey(symbol: string): string {
  return `${bookTag(symbol)}:fin`;
}

/**
 * Set once an account's first client order id reservation expired (idempotency window over):
 * from then on a client order id Redis no longer knows may name an order only Postgres has.
 */
export function accountRetiredIdsKey(accountId: string): string {
  return `{ac:${accountId}}:coid-expired`;
}

/** Order ids are `SYMBOL:n`: the book is found from the id alone, without a lookup. */
export function symbolOfOrderId(orderId: string): string | undefined {
  const i = orderId.lastIndexOf(':');
  if (i <= 0 || !/^\d+$/.test(orderId.slice(i + 1))) return undefined;
  return orderId.slice(0, i);
}
