/**
 * Trades through the real matching engine (OrderEngine, the Lua book scripts) for the sync
 * tests: each trade is a resting maker fully filled by a taker of another account, so the
 * events the sync reads, and the positions it must reproduce, are exactly the engine's.
 * Deterministic for a given seed.
 */
import type { Redis } from 'ioredis';
import { validateInstruments } from '../../../src/domain/matching/instrument.js';
import { publishInstruments } from '../../../src/workers/orders/instruments-store.js';
import { OrderEngine } from '../../../src/workers/orders/order-engine.js';

/** Wide limits: these tests are about the sync, not about risk checks. */
function instrument(symbol: string) {
  return {
    symbol, tickSize: 1, lotSize: 1, minQty: 1, maxQty: 1000, maxPriceTicks: 1_000_000, referencePriceTicks: 10_000,
    bandBps: 2000, maxNotionalTicks: 1_000_000_000, positionLimitLots: 1_000_000,
  };
}

export class EngineTrades {
  private rnd: () => number;
  private readonly engine: OrderEngine;
  /** Every order the engine acknowledged, and every fill it made. */
  readonly orders = new Set<string>();
  readonly fills = new Set<string>();

  private constructor(redis: Redis, readonly symbols: string[], readonly accounts: string[], seed: number) {
    this.engine = new OrderEngine(redis);
    let s = seed >>> 0 || 1;
    this.rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  }

  /** Lists the symbols' books in Redis (as a gateway does at start) and returns a trader. */
  static async on(redis: Redis, symbols: string[], accounts: string[], seed = 1): Promise<EngineTrades> {
    await publishInstruments(redis, validateInstruments(symbols.map(instrument), 'sync test'));
    return new EngineTrades(redis, symbols, accounts, seed);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)] as T;
  }

  /** One trade on `sym` (random if unset) between two different accounts (random if unset). */
  async trade(sym = this.pick(this.symbols), makerAcct = this.pick(this.accounts), takerAcct?: string): Promise<void> {
    let taker = takerAcct ?? this.pick(this.accounts);
    while (taker === makerAcct) taker = this.pick(this.accounts);
    const makerSide = this.rnd() < 0.5 ? 'BUY' : 'SELL';
    const price = 10_000n + BigInt(Math.floor(this.rnd() * 100));
    const qty = 1n + BigInt(Math.floor(this.rnd() * 10));
    const common = { symbol: sym, type: 'LIMIT', price, qty, coid: '', postOnly: false, stp: 'CANCEL_NEWEST' } as const;
    const maker = await this.engine.place(makerAcct, { ...common, side: makerSide, tif: 'GTC' });
    const t = await this.engine.place(taker, { ...common, side: makerSide === 'BUY' ? 'SELL' : 'BUY', tif: 'IOC' });
    if (t.order.status !== 'FILLED' || t.fills.length !== 1) throw new Error(`the taker did not fill: ${JSON.stringify(t.order)}`);
    this.orders.add(maker.order.id);
    this.orders.add(t.order.id);
    for (const f of t.fills) this.fills.add(f.id);
  }
}
