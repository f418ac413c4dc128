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

/** Order ids are `SYMBOL:n`: the book is found from the id alone, without a lookup. */
export function symbolOfOrderId(orderId: string): string | undefined {
  const i = orderId.lastIndexOf(':');
  if (i <= 0 || !/^\d+$/.test(orderId.slice(i + 1))) return undefined;
  return orderId.slice(0, i);
}
