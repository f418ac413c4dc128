/**
 * A deterministic order flow through the real matching engine (OrderEngine, the Lua book
 * scripts): limit orders around each instrument's reference price, some IOC, some cancels and
 * amends, client order ids on a share of them. Same seed, same calls, same resulting book.
 */
import type { Redis } from 'ioredis';
import { ApiError } from '../../../src/domain/errors.js';
import type { Instrument } from '../../../src/domain/matching/instrument.js';
import { OrderEngine } from '../../../src/workers/orders/order-engine.js';

/**
 * What this flow's own calls may be refused for: risk limits on the orders it makes up, and
 * cancels or amends of orders that filled meanwhile (or an amend below what has filled).
 * Anything else is a fault.
 */
const FLOW_REFUSALS = new Set(['POSITION_LIMIT_EXCEEDED', 'NOTIONAL_LIMIT_EXCEEDED', 'PRICE_OUT_OF_BAND', 'ORDER_NOT_WORKING', 'QUANTITY_OUT_OF_RANGE']);

export class OrderFlow {
  private rnd: () => number;
  private n = 0;
  readonly engine: OrderEngine;
  /** Order ids the engine acknowledged that may still be working. */
  private live: { acct: string; id: string }[] = [];
  readonly acknowledged = new Set<string>();
  refused = 0;
  /** Refusals by reason: the flow's own (risk, an order no longer working) and any other. */
  readonly refusals = new Map<string, number>();

  constructor(redis: Redis, private readonly instruments: readonly Instrument[], private readonly accounts: readonly string[], seed: number) {
    this.engine = new OrderEngine(redis);
    let s = seed >>> 0 || 1;
    this.rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  }

  private int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  /** One client action; refusals (risk, not working any more) are part of the flow. */
  async step(): Promise<void> {
    this.n++;
    const acct = this.accounts[this.int(this.accounts.length)] as string;
    const roll = this.int(100);
    try {
      if (roll < 10 && this.live.length) {
        const o = this.live.splice(this.int(this.live.length), 1)[0] as { acct: string; id: string };
        await this.engine.cancel(o.acct, { orderId: o.id });
      } else if (roll < 15 && this.live.length) {
        const o = this.live[this.int(this.live.length)] as { acct: string; id: string };
        await this.engine.amend(o.acct, { orderId: o.id }, 0n, BigInt(50 + this.int(50)));
      } else {
        const inst = this.instruments[this.int(this.instruments.length)] as Instrument;
        const side = this.rnd() < 0.5 ? 'BUY' : 'SELL';
        const offset = BigInt(this.int(7) - 3) * inst.tickSize; // crosses about half the time
        const price = inst.referencePriceTicks + offset;
        const qty = inst.lotSize * BigInt(1 + this.int(20));
        const r = await this.engine.place(acct, {
          symbol: inst.symbol, side, type: 'LIMIT', tif: roll > 90 ? 'IOC' : 'GTC', price, qty,
          coid: roll % 3 === 0 ? `k${this.n}` : '', postOnly: false, stp: 'CANCEL_NEWEST',
        });
        this.acknowledged.add(r.order.id);
        if (r.order.status === 'NEW' || r.order.status === 'PARTIALLY_FILLED') this.live.push({ acct, id: r.order.id });
      }
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      this.refused++;
      this.refusals.set(err.reason, (this.refusals.get(err.reason) ?? 0) + 1);
    }
  }

  /**
   * Refusals the flow does not cause itself (INTERNAL, BACKEND_UNAVAILABLE, ...), by reason:
   * a test asserts this is empty, so a crash or rebuild that breaks calls cannot hide here.
   */
  unexpectedRefusals(): Record<string, number> {
    return Object.fromEntries([...this.refusals].filter(([reason]) => !FLOW_REFUSALS.has(reason)));
  }

  async run(steps: number): Promise<void> {
    for (let i = 0; i < steps; i++) await this.step();
  }
}
