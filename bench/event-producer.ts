/**
 * Produces events that follow src/domain/events.ts the way the matching engine does: in one
 * atomic step (MULTI) with the Redis state they describe (positions in the engine's key
 * layout, `{bk:SYM}:a:<len>:<acct>:pos`), so a test can compare Postgres with Redis.
 * For the sync benchmark only: it builds a backlog of hundreds of thousands of entries far
 * faster than the engine could (the tests drive the real engine, test/sync/support/
 * engine-trades.ts). Deterministic for a given seed.
 */
import type { Redis } from 'ioredis';
import { eventStreamKey, type FillEvent, type OrderState, type PositionState } from '../src/domain/events.js';

/** The engine's per-account position key (src/workers/orders/lua/common.lua, AK()). */
export function positionKey(sym: string, acct: string): string {
  return `{bk:${sym}}:a:${acct.length}:${acct}:pos`;
}

export class EventProducer {
  private rnd: () => number;
  private nextOrder = 1;
  private nextFill = 1;
  private positions = new Map<string, PositionState>();
  /** Every order's latest state and every fill, as the engine acknowledged them. */
  readonly orders = new Map<string, OrderState>();
  readonly fills = new Set<string>();

  constructor(
    private readonly redis: Redis,
    readonly symbols: string[],
    readonly accounts: string[],
    seed = 1,
    private readonly prefix = 'o',
  ) {
    let s = seed >>> 0 || 1;
    this.rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)] as T;
  }

  private order(acct: string, sym: string, side: 'BUY' | 'SELL', px: bigint, qty: bigint, now: string): OrderState {
    const id = `${this.prefix}${this.nextOrder++}`;
    return { id, coid: `c-${id}`, acct, sym, side, type: 'LIMIT', tif: 'GTC', px: String(px), qty: String(qty), filled: '0', notional: '0', status: 'NEW', reason: '', post: false, stp: 'CANCEL_NEWEST', ctime: now, utime: now, ver: '1', seq: String(this.nextOrder) };
  }

  private move(acct: string, sym: string, side: 'BUY' | 'SELL', px: bigint, qty: bigint): PositionState {
    const key = `${acct}/${sym}`;
    const p = this.positions.get(key) ?? { acct, sym, qty: '0', cost: '0', realized: '0', ver: '0' };
    const sign = side === 'BUY' ? 1n : -1n;
    const next = { acct, sym, qty: String(BigInt(p.qty) + sign * qty), cost: String(BigInt(p.cost) + sign * qty * px), realized: p.realized, ver: String(BigInt(p.ver) + 1n) };
    this.positions.set(key, next);
    return next;
  }

  /** One trade: a resting maker order fully filled by a taker; six events, one MULTI. */
  async trade(now = Date.now()): Promise<void> {
    const sym = this.pick(this.symbols);
    const makerAcct = this.pick(this.accounts);
    let takerAcct = this.pick(this.accounts);
    while (takerAcct === makerAcct) takerAcct = this.pick(this.accounts);
    const makerSide = this.rnd() < 0.5 ? 'BUY' : 'SELL';
    const takerSide = makerSide === 'BUY' ? 'SELL' : 'BUY';
    const px = 10_000n + BigInt(Math.floor(this.rnd() * 100));
    const qty = 1n + BigInt(Math.floor(this.rnd() * 10));
    const t = String(now);
    const maker = this.order(makerAcct, sym, makerSide, px, qty, t);
    const taker = this.order(takerAcct, sym, takerSide, px, qty, t);
    const done = (o: OrderState): OrderState => ({ ...o, filled: o.qty, notional: String(px * qty), status: 'FILLED', ver: '2' });
    const fill: FillEvent = {
      id: `f${this.prefix}${this.nextFill++}`, sym, px: String(px), qty: String(qty), time: t,
      maker: { order: maker.id, coid: maker.coid, acct: makerAcct, side: makerSide },
      taker: { order: taker.id, coid: taker.coid, acct: takerAcct, side: takerSide },
      positions: [this.move(makerAcct, sym, makerSide, px, qty), this.move(takerAcct, sym, takerSide, px, qty)],
    };
    const stream = eventStreamKey(sym);
    const m = this.redis.multi();
    m.xadd(stream, '*', 'k', 'order', 'd', JSON.stringify({ change: 'accepted', order: maker }));
    m.xadd(stream, '*', 'k', 'order', 'd', JSON.stringify({ change: 'accepted', order: taker }));
    m.xadd(stream, '*', 'k', 'fill', 'd', JSON.stringify(fill));
    m.xadd(stream, '*', 'k', 'order', 'd', JSON.stringify({ change: 'filled', order: done(maker) }));
    m.xadd(stream, '*', 'k', 'order', 'd', JSON.stringify({ change: 'filled', order: done(taker) }));
    for (const p of fill.positions) m.hset(positionKey(p.sym, p.acct), 'qty', p.qty, 'cost', p.cost, 'realized', p.realized, 'ver', p.ver);
    const res = await m.exec();
    for (const [err] of res ?? []) if (err) throw err;
    // Acknowledged: the engine would now answer the client.
    this.orders.set(maker.id, done(maker));
    this.orders.set(taker.id, done(taker));
    this.fills.add(fill.id);
  }
}
