import type { OrderTypeCode, SideCode, StatusCode, StpCode, TifCode } from '../events.js';
import { priceBand, type Instrument } from './instrument.js';
import type { OrderInput } from './order-input.js';
import { applyFill, type Position } from './position-math.js';

/**
 * A plain, slow, obviously-correct model of the matching engine, for property tests: the
 * same rules as the Lua scripts (risk, post-only, FOK, self-trade prevention, price-time
 * priority, maker-price fills, positions), written as simply as possible with bigints and
 * arrays. Ids follow the same counters, so results compare one to one.
 */
export interface ModelOrder {
  id: string; coid: string; acct: string; sym: string; side: SideCode; type: OrderTypeCode;
  tif: TifCode; px: bigint; qty: bigint; filled: bigint; notional: bigint;
  status: StatusCode; reason: string; post: boolean; stp: StpCode; seq: number;
}
export interface ModelFill { id: string; px: bigint; qty: bigint; maker: string; taker: string }
export type ModelResult = { error: string } | { order: ModelOrder; fills: ModelFill[] };

interface Book { inst: Instrument; bids: ModelOrder[]; asks: ModelOrder[]; last?: bigint; oid: number; fid: number; seq: number }
interface Exposure extends Position { ob: bigint; os: bigint }

/**
 * The model's own rule for "a retry of the same order": every field the client chose, one by
 * one. It does not borrow the engine's fingerprint, so a fingerprint that forgets a field
 * (and lets a different order replay an old result) disagrees with the model.
 */
function sameOrder(a: OrderInput, b: OrderInput): boolean {
  return a.symbol === b.symbol && a.side === b.side && a.type === b.type && a.tif === b.tif
    && a.price === b.price && a.qty === b.qty && a.postOnly === b.postOnly && a.stp === b.stp;
}

const working = (o: ModelOrder) => o.status === 'NEW' || o.status === 'PARTIALLY_FILLED';
const crosses = (side: SideCode, level: bigint, limit: bigint) => (side === 'BUY' ? level <= limit : level >= limit);

export class ReferenceExchange {
  readonly books = new Map<string, Book>();
  readonly orders = new Map<string, ModelOrder>();
  readonly positions = new Map<string, Exposure>();
  private readonly coids = new Map<string, { input: OrderInput; result: ModelResult }>();

  constructor(instruments: readonly Instrument[]) {
    for (const inst of instruments) this.books.set(inst.symbol, { inst, bids: [], asks: [], oid: 0, fid: 0, seq: 0 });
  }

  position(acct: string, sym: string): Exposure {
    const key = `${acct}|${sym}`;
    let p = this.positions.get(key);
    if (!p) this.positions.set(key, (p = { qty: 0n, cost: 0n, realized: 0n, ob: 0n, os: 0n }));
    return p;
  }

  place(acct: string, o: OrderInput): ModelResult {
    const book = this.books.get(o.symbol)!;
    const inst = book.inst;
    const prev = o.coid ? this.coids.get(`${acct}|${o.coid}`) : undefined;
    if (prev) return sameOrder(prev.input, o) ? structuredClone(prev.result) : { error: 'DUPLICATE_CLIENT_ORDER_ID' };
    const { lo, hi } = priceBand(book.last ?? inst.referencePriceTicks, inst.bandBps);
    let limit: bigint;
    if (o.type === 'MARKET') {
      limit = o.side === 'BUY' ? hi : lo;
      if (hi * o.qty > inst.maxNotionalTicks) return { error: 'NOTIONAL_LIMIT_EXCEEDED' };
    } else {
      limit = o.price;
      if (o.price < lo || o.price > hi) return { error: 'PRICE_OUT_OF_BAND' };
      if (o.price * o.qty > inst.maxNotionalTicks) return { error: 'NOTIONAL_LIMIT_EXCEEDED' };
    }
    if (!this.positionAllows(acct, book, o.side, o.qty)) return { error: 'POSITION_LIMIT_EXCEEDED' };
    const t: ModelOrder = {
      id: `${o.symbol}:${++book.oid}`, coid: o.coid, acct, sym: o.symbol, side: o.side, type: o.type, tif: o.tif,
      px: o.price, qty: o.qty, filled: 0n, notional: 0n, status: 'NEW', reason: '', post: o.postOnly, stp: o.stp, seq: ++book.seq,
    };
    this.orders.set(t.id, t);
    let fills: ModelFill[] = [];
    const best = this.opposite(book, o.side)[0];
    if (o.postOnly && best && crosses(o.side, best.px, limit)) {
      t.status = 'REJECTED';
      t.reason = 'POST_ONLY_WOULD_TAKE';
    } else if (o.tif === 'FOK' && !this.fillable(book, t, limit)) {
      t.status = 'EXPIRED';
      t.reason = 'NO_LIQUIDITY';
    } else {
      const m = this.match(book, t, limit);
      fills = m.fills;
      this.settle(book, t, m.stopped, o.tif === 'GTC');
    }
    const result = { order: { ...t }, fills };
    if (o.coid) this.coids.set(`${acct}|${o.coid}`, { input: { ...o }, result: structuredClone(result) });
    return result;
  }

  cancel(acct: string, id: string): ModelResult {
    const o = this.orders.get(id);
    if (!o || o.acct !== acct) return { error: 'ORDER_NOT_FOUND' };
    if (!working(o)) return { error: 'ORDER_NOT_WORKING' };
    this.unrest(this.books.get(o.sym)!, o);
    o.status = 'CANCELED';
    o.reason = 'CANCELED_BY_OWNER';
    return { order: { ...o }, fills: [] };
  }

  amend(acct: string, id: string, newPx: bigint, newQty: bigint): ModelResult {
    const o = this.orders.get(id);
    if (!o || o.acct !== acct) return { error: 'ORDER_NOT_FOUND' };
    if (!working(o)) return { error: 'ORDER_NOT_WORKING' };
    const book = this.books.get(o.sym)!;
    const inst = book.inst;
    const npx = newPx === 0n ? o.px : newPx;
    const nqty = newQty === 0n ? o.qty : newQty;
    if (nqty <= o.filled) return { error: 'QUANTITY_OUT_OF_RANGE' };
    if (npx === o.px && nqty === o.qty) return { order: { ...o }, fills: [] };
    if (npx !== o.px) {
      const { lo, hi } = priceBand(book.last ?? inst.referencePriceTicks, inst.bandBps);
      if (npx < lo || npx > hi) return { error: 'PRICE_OUT_OF_BAND' };
    }
    if (npx * nqty > inst.maxNotionalTicks) return { error: 'NOTIONAL_LIMIT_EXCEEDED' };
    if (nqty > o.qty && !this.positionAllows(acct, book, o.side, nqty - o.qty)) return { error: 'POSITION_LIMIT_EXCEEDED' };
    const best = this.opposite(book, o.side)[0];
    if (npx !== o.px && o.post && best && crosses(o.side, best.px, npx)) return { error: 'POST_ONLY_WOULD_TAKE' };
    if (npx === o.px && nqty < o.qty) {
      this.openAdjust(acct, o.sym, o.side, nqty - o.qty);
      o.qty = nqty;
      return { order: { ...o }, fills: [] };
    }
    this.unrest(book, o);
    o.px = npx;
    o.qty = nqty;
    o.seq = ++book.seq;
    const m = this.match(book, o, npx);
    this.settle(book, o, m.stopped, true);
    return { order: { ...o }, fills: m.fills };
  }

  /** Resting order ids per side, best first: what the Redis book must equal. */
  restingIds(sym: string): { bids: string[]; asks: string[] } {
    const b = this.books.get(sym)!;
    return { bids: b.bids.map((o) => o.id), asks: b.asks.map((o) => o.id) };
  }

  private opposite(book: Book, side: SideCode): ModelOrder[] {
    return side === 'BUY' ? book.asks : book.bids;
  }

  private positionAllows(acct: string, book: Book, side: SideCode, extra: bigint): boolean {
    const p = this.position(acct, book.inst.symbol);
    const lim = book.inst.positionLimitLots;
    return side === 'BUY' ? p.qty + p.ob + extra <= lim : p.qty - p.os - extra >= -lim;
  }

  private openAdjust(acct: string, sym: string, side: SideCode, d: bigint): void {
    const p = this.position(acct, sym);
    if (side === 'BUY') p.ob += d;
    else p.os += d;
  }

  private rest(book: Book, o: ModelOrder): void {
    const list = o.side === 'BUY' ? book.bids : book.asks;
    list.push(o);
    list.sort((a, b) => (a.px === b.px ? a.seq - b.seq : (o.side === 'BUY' ? a.px < b.px : a.px > b.px) ? 1 : -1));
    this.openAdjust(o.acct, o.sym, o.side, o.qty - o.filled);
  }

  private unrest(book: Book, o: ModelOrder): void {
    const list = o.side === 'BUY' ? book.bids : book.asks;
    const i = list.indexOf(o);
    if (i >= 0) list.splice(i, 1);
    this.openAdjust(o.acct, o.sym, o.side, o.filled - o.qty);
  }

  private fillable(book: Book, t: ModelOrder, limit: bigint): boolean {
    let got = 0n;
    for (const m of this.opposite(book, t.side)) {
      if (!crosses(t.side, m.px, limit)) break;
      if (m.acct === t.acct) {
        if (t.stp !== 'CANCEL_OLDEST') break;
        continue;
      }
      got += m.qty - m.filled;
      if (got >= t.qty) return true;
    }
    return got >= t.qty;
  }

  private match(book: Book, t: ModelOrder, limit: bigint): { fills: ModelFill[]; stopped: boolean } {
    const fills: ModelFill[] = [];
    const opp = this.opposite(book, t.side);
    while (t.filled < t.qty) {
      const m = opp[0];
      if (!m || !crosses(t.side, m.px, limit)) break;
      if (m.acct === t.acct) {
        if (t.stp === 'CANCEL_NEWEST') return { fills, stopped: true };
        this.unrest(book, m);
        m.status = 'CANCELED';
        m.reason = 'SELF_TRADE_PREVENTED';
        if (t.stp === 'CANCEL_BOTH') return { fills, stopped: true };
        continue;
      }
      const q = t.qty - t.filled < m.qty - m.filled ? t.qty - t.filled : m.qty - m.filled;
      t.filled += q;
      t.notional += q * m.px;
      m.filled += q;
      m.notional += q * m.px;
      this.openAdjust(m.acct, m.sym, m.side, -q);
      if (m.filled === m.qty) {
        opp.shift();
        m.status = 'FILLED';
      } else {
        m.status = 'PARTIALLY_FILLED';
      }
      const dq = t.side === 'BUY' ? q : -q;
      this.trade(t.acct, t.sym, dq, m.px);
      this.trade(m.acct, m.sym, -dq, m.px);
      fills.push({ id: `${t.sym}:F${++book.fid}`, px: m.px, qty: q, maker: m.id, taker: t.id });
      book.last = m.px;
    }
    return { fills, stopped: false };
  }

  private trade(acct: string, sym: string, dq: bigint, px: bigint): void {
    const p = this.position(acct, sym);
    Object.assign(p, applyFill(p, dq, px));
  }

  private settle(book: Book, t: ModelOrder, stopped: boolean, canRest: boolean): void {
    if (t.filled === t.qty) {
      t.status = 'FILLED';
    } else if (stopped) {
      t.status = 'CANCELED';
      t.reason = 'SELF_TRADE_PREVENTED';
    } else if (!canRest) {
      t.status = 'EXPIRED';
      t.reason = 'NO_LIQUIDITY';
    } else {
      this.rest(book, t);
      t.status = t.filled > 0n ? 'PARTIALLY_FILLED' : 'NEW';
    }
  }
}
