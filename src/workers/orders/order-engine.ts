import { ApiError, Reasons, type Reason } from '../../domain/errors.js';
import { isRefusalReason, refusal, type Facts } from '../../domain/refusals.js';
import type { FillEvent, OrderState } from '../../domain/events.js';
import { fingerprint, type OrderInput } from '../../domain/matching/order-input.js';
import {
  clientOrderKey, clientOrderReservationKey, instrumentKey, orderKey, symbolOfOrderId,
} from '../../domain/matching/keys.js';
import { orderScripts, type OrderScripts, type RedisLike } from './scripts.js';

/** A fill as a script reply carries it: the event without positions and order snapshots. */
export type ReplyFill = Omit<FillEvent, 'positions' | 'orders'>;

/** An order after a book operation, with the fills that operation made (taker side). */
export interface EngineResult {
  order: OrderState;
  fills: ReplyFill[];
}

/** Names one of the caller's orders by exactly one of its ids. */
export type OrderRef = { orderId: string; coid?: undefined } | { coid: string; orderId?: undefined };

/** Parses a script's JSON reply; a `{e, d}` reply (reason, facts) becomes the ApiError it names. */
export function parseReply(reply: string): EngineResult {
  const doc = JSON.parse(reply) as { e?: string; d?: unknown; o?: OrderState; f?: unknown };
  if (doc.e !== undefined) {
    // cjson encodes an empty table as {}; a plain string is an old-style message, not facts.
    const facts = doc.d !== null && typeof doc.d === 'object' ? (doc.d as Facts) : {};
    if (isRefusalReason(doc.e)) throw refusal(doc.e, facts);
    const reason = (doc.e in Reasons ? doc.e : 'INTERNAL') as Reason;
    throw new ApiError(reason, reason, facts);
  }
  // cjson encodes an empty Lua table as {}, not [].
  return { order: doc.o!, fills: Array.isArray(doc.f) ? (doc.f as ReplyFill[]) : [] };
}

/**
 * The client side of the matching engine: every book change is one Lua script call; this
 * class only routes calls to the right book and keeps client order ids unique per account.
 *
 * Client order id uniqueness spans books, which live in different cluster slots. So a place
 * first reserves the id under the account's own tag (SET NX, value = order fingerprint), then
 * calls the book script, which is itself idempotent on (account, id). A retry after a crash
 * between the two finds its own reservation and simply runs the book script again.
 */
export class OrderEngine {
  private readonly scripts: OrderScripts;

  constructor(private readonly redis: RedisLike) {
    this.scripts = orderScripts(redis);
  }

  /** Places one order; refusals (risk, duplicates) throw ApiError. */
  async place(accountId: string, o: OrderInput): Promise<EngineResult> {
    const fp = fingerprint(o);
    let reservation: string | undefined;
    if (o.coid !== '') {
      reservation = clientOrderReservationKey(accountId, o.coid);
      const prev = (await this.redis.set(reservation, fp, 'NX', 'GET')) as string | null;
      if (prev !== null && prev !== fp) {
        throw refusal('DUPLICATE_CLIENT_ORDER_ID');
      }
    }
    const reply = await this.scripts.place(
      instrumentKey(o.symbol), accountId, o.coid, fp, o.side, o.type, o.tif,
      o.price.toString(), o.qty.toString(), o.postOnly ? '1' : '0', o.stp,
    );
    try {
      return parseReply(reply);
    } catch (err) {
      // A refused order did not use its client order id: let the client reuse it.
      if (reservation && err instanceof ApiError && err.reason !== 'DUPLICATE_CLIENT_ORDER_ID') {
        await this.scripts.releaseClientId(reservation, fp);
      }
      throw err;
    }
  }

  /** Cancels the working rest of an order. */
  async cancel(accountId: string, ref: OrderRef): Promise<EngineResult> {
    const symbol = await this.symbolOf(accountId, ref);
    return parseReply(await this.scripts.cancel(instrumentKey(symbol), accountId, ref.orderId ?? '', ref.coid ?? ''));
  }

  /**
   * Changes price and/or total quantity (0n keeps the current value). `symbol` may be given
   * when the caller already resolved it (to validate against the instrument first).
   */
  async amend(accountId: string, ref: OrderRef, newPrice: bigint, newQty: bigint, symbol?: string): Promise<EngineResult> {
    symbol ??= await this.symbolOf(accountId, ref);
    return parseReply(await this.scripts.amend(
      instrumentKey(symbol), accountId, ref.orderId ?? '', ref.coid ?? '', newPrice.toString(), newQty.toString(),
    ));
  }

  /** Reads one of the account's orders (plain reads: an order hash is written atomically). */
  async get(accountId: string, ref: OrderRef): Promise<OrderState> {
    const symbol = await this.symbolOf(accountId, ref);
    const orderId = ref.orderId ?? (await this.redis.hget(clientOrderKey(symbol, accountId, ref.coid!), 'oid'));
    const h = orderId ? await this.redis.hgetall(orderKey(symbol, orderId)) : {};
    if (h.acct !== accountId) throw notFound(ref);
    return orderFromHash(h);
  }

  /** The book an order lives in: from the order id itself, or from the id reservation. */
  async symbolOf(accountId: string, ref: OrderRef): Promise<string> {
    if (ref.orderId !== undefined) {
      const s = symbolOfOrderId(ref.orderId);
      if (!s) throw notFound(ref);
      return s;
    }
    const fp = await this.redis.get(clientOrderReservationKey(accountId, ref.coid));
    if (fp === null) throw notFound(ref);
    return fp.slice(0, fp.indexOf('|'));
  }
}

/** ORDER_NOT_FOUND naming the id field the caller used. */
export function notFound(ref: OrderRef): ApiError {
  return refusal('ORDER_NOT_FOUND', { field: ref.orderId !== undefined ? 'order_id' : 'client_order_id' });
}

/** An order hash as stored by the scripts, in the event contract's shape. */
export function orderFromHash(h: Record<string, string>): OrderState {
  return {
    id: h.id!, coid: h.coid ?? '', acct: h.acct!, sym: h.sym!,
    side: h.side as OrderState['side'], type: h.type as OrderState['type'], tif: h.tif as OrderState['tif'],
    px: h.px!, qty: h.qty!, filled: h.filled!, notional: h.notional!,
    status: h.status as OrderState['status'], reason: h.reason ?? '', post: h.post === '1',
    stp: h.stp as OrderState['stp'], ctime: h.ctime!, utime: h.utime!, ver: h.ver!, seq: h.seq!,
  };
}
