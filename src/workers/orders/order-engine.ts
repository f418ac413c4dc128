import { ApiError, Reasons, type Reason } from '../../domain/errors.js';
import { isRefusalReason, refusal, type Facts } from '../../domain/refusals.js';
import type { FillEvent, OrderState } from '../../domain/events.js';
import { fingerprint, type OrderInput } from '../../domain/matching/order-input.js';
import {
  accountRetiredIdsKey, bookStateKey, clientOrderKey, clientOrderReservationKey, instrumentKey, orderKey, symbolOfOrderId,
} from '../../domain/matching/keys.js';
import { decodePlacement } from '../../domain/matching/placement-snapshot.js';
import type { Sql } from 'postgres';
import { historyByClientId, historyById } from './order-history.js';
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

/**
 * Parses a script's JSON reply; a `{e, d}` reply (reason, facts) becomes the ApiError it
 * names, and a `{r, s}` reply (a retried placement: order id and placement record) is rebuilt
 * from the record and the retried request, which carries the same content.
 */
export function parseReply(reply: string, retried?: { accountId: string; input: OrderInput }): EngineResult {
  const doc = JSON.parse(reply) as { e?: string; d?: unknown; o?: OrderState; f?: unknown; r?: string; s?: string };
  if (doc.e !== undefined) {
    // cjson encodes an empty table as {}; a plain string is an old-style message, not facts.
    const facts = doc.d !== null && typeof doc.d === 'object' ? (doc.d as Facts) : {};
    if (isRefusalReason(doc.e)) throw refusal(doc.e, facts);
    const reason = (doc.e in Reasons ? doc.e : 'INTERNAL') as Reason;
    throw new ApiError(reason, reason, facts);
  }
  if (doc.r !== undefined && retried) return decodePlacement(doc.s!, doc.r, retried.accountId, retried.input);
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

  /**
   * `history` gives the Postgres client that answers for orders which left Redis after their
   * retention window (order-history.ts); without it such orders are simply not found.
   */
  constructor(private readonly redis: RedisLike, private readonly history?: () => Sql) {
    this.scripts = orderScripts(redis);
  }

  /**
   * Places one order; refusals (risk, duplicates) throw ApiError. `traceparent` (the call's,
   * validated; '' for none) goes onto the order's stream events.
   */
  async place(accountId: string, o: OrderInput, traceparent = ''): Promise<EngineResult> {
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
      o.price.toString(), o.qty.toString(), o.postOnly ? '1' : '0', o.stp, traceparent,
    );
    try {
      return parseReply(reply, { accountId, input: o });
    } catch (err) {
      // A refused order did not use its client order id: let the client reuse it.
      if (reservation && err instanceof ApiError && err.reason !== 'DUPLICATE_CLIENT_ORDER_ID') {
        await this.scripts.releaseClientId(reservation, fp);
      }
      throw err;
    }
  }

  /** Cancels the working rest of an order. */
  async cancel(accountId: string, ref: OrderRef, traceparent = ''): Promise<EngineResult> {
    const symbol = await this.bookOf(accountId, ref, 'canceled');
    return this.orRetired(accountId, ref, 'canceled', symbol, async () =>
      parseReply(await this.scripts.cancel(instrumentKey(symbol), accountId, ref.orderId ?? '', ref.coid ?? '', traceparent)));
  }

  /**
   * Changes price and/or total quantity (0n keeps the current value). `symbol` may be given
   * when the caller already resolved it (to validate against the instrument first).
   */
  async amend(accountId: string, ref: OrderRef, newPrice: bigint, newQty: bigint, symbol?: string, traceparent = ''): Promise<EngineResult> {
    const sym = symbol ?? await this.bookOf(accountId, ref, 'amended');
    return this.orRetired(accountId, ref, 'amended', sym, async () => parseReply(await this.scripts.amend(
      instrumentKey(sym), accountId, ref.orderId ?? '', ref.coid ?? '', newPrice.toString(), newQty.toString(), traceparent,
    )));
  }

  /** Reads one of the account's orders: from Redis, or from Postgres once it left Redis. */
  async get(accountId: string, ref: OrderRef): Promise<OrderState> {
    const symbol = ref.orderId !== undefined ? symbolOfOrderId(ref.orderId) : await this.reservedSymbol(accountId, ref.coid);
    if (symbol !== undefined) {
      const orderId = ref.orderId ?? (await this.redis.hget(clientOrderKey(symbol, accountId, ref.coid!), 'oid'));
      const h = orderId ? await this.redis.hgetall(orderKey(symbol, orderId)) : {};
      if (h.acct === accountId) return orderFromHash(h);
    }
    const old = await this.retired(accountId, ref, symbol);
    if (!old) throw notFound(ref);
    return old;
  }

  /** The book an order lives in: from the order id itself, or from the id reservation. */
  async symbolOf(accountId: string, ref: OrderRef): Promise<string> {
    const s = ref.orderId !== undefined ? symbolOfOrderId(ref.orderId) : await this.reservedSymbol(accountId, ref.coid);
    if (s === undefined) throw notFound(ref);
    return s;
  }

  /**
   * The book of an order a cancel or amend (`verb`) names: like symbolOf, but a client order
   * id whose window is over, naming a finished order in Postgres, is ORDER_NOT_WORKING.
   */
  async bookOf(accountId: string, ref: OrderRef, verb: string): Promise<string> {
    return this.symbolOf(accountId, ref).catch((err: unknown) => this.notWorkingIfRetired(accountId, ref, verb, err));
  }

  private async reservedSymbol(accountId: string, coid: string): Promise<string | undefined> {
    const fp = await this.redis.get(clientOrderReservationKey(accountId, coid));
    return fp === null ? undefined : fp.slice(0, fp.indexOf('|'));
  }

  /**
   * The order from Postgres if it may have left Redis: only when its book has swept orders
   * (by order id) or the account has had client order ids expire (by client order id), so a
   * lookup of an id that never existed costs no query on a book that never swept.
   */
  private async retired(accountId: string, ref: OrderRef, symbol: string | undefined): Promise<OrderState | undefined> {
    if (!this.history) return undefined;
    const marker = ref.orderId !== undefined
      ? symbol !== undefined && (await this.redis.hexists(bookStateKey(symbol), 'swept')) === 1
      : (await this.redis.exists(accountRetiredIdsKey(accountId))) === 1 || (symbol !== undefined && (await this.redis.hexists(bookStateKey(symbol), 'swept')) === 1);
    if (!marker) return undefined;
    const sql = this.history();
    return ref.orderId !== undefined ? historyById(sql, accountId, ref.orderId) : historyByClientId(sql, accountId, ref.coid);
  }

  /** Runs a cancel or amend; an order the book no longer has may be a finished one in Postgres. */
  private async orRetired(accountId: string, ref: OrderRef, verb: string, symbol: string, run: () => Promise<EngineResult>): Promise<EngineResult> {
    try {
      return await run();
    } catch (err) {
      if (!(err instanceof ApiError) || err.reason !== 'ORDER_NOT_FOUND') throw err;
      return this.notWorkingIfRetired(accountId, ref, verb, err, symbol);
    }
  }

  /** ORDER_NOT_WORKING (worded as the scripts word it) for a retired order, else `err`. */
  private async notWorkingIfRetired(accountId: string, ref: OrderRef, verb: string, err: unknown, symbol?: string): Promise<never> {
    if (!(err instanceof ApiError) || err.reason !== 'ORDER_NOT_FOUND') throw err;
    const old = await this.retired(accountId, ref, symbol);
    if (!old) throw err;
    throw refusal('ORDER_NOT_WORKING', {
      field: ref.orderId !== undefined ? 'order_id' : 'client_order_id', order_id: old.id, status: old.status, action: verb,
    });
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
