/**
 * Generated fill histories as the matching engine would emit them: fill ids `SYM:F<n>` in
 * book order, times that never decrease along a book, and each party's position after the
 * fill by the engine's average-cost model (applyFill, the bigint port of applyPosition), with
 * a version that grows by one per fill. Deterministic for a seed. Used by the rollup tests
 * (against a raw-fill reference) and by bench/analytics-history.ts (to seed Postgres).
 */
import type { FillEvent, PositionState } from '../../../src/domain/events.js';
import type { StreamEntry } from '../../../src/sync/stream-entry.js';
import { applyFill } from '../../../src/workers/analytics/position-replay.js';

export interface HistoryOptions {
  seed: number;
  symbols: string[];
  accounts: string[];
  /** Epoch ms of the first fill; later fills are spaced by random gaps. */
  startMs: number;
  /** Mean gap between fills of one book, ms (the mix keeps many in one ms or one minute). */
  meanGapMs: number;
  /** Picks [maker, taker] for a fill; default: two distinct random accounts. */
  parties?: (rnd: () => number) => [string, string];
}

export class FillHistory {
  readonly fills: FillEvent[] = [];
  readonly positions = new Map<string, PositionState>();
  private readonly clock = new Map<string, number>();
  private readonly counter = new Map<string, number>();
  readonly rnd: () => number;

  constructor(private readonly o: HistoryOptions) {
    let s = o.seed >>> 0 || 1;
    this.rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  }

  private int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }

  private move(acct: string, sym: string, dq: bigint, px: bigint): PositionState {
    const key = `${acct}/${sym}`;
    const p = this.positions.get(key) ?? { acct, sym, qty: '0', cost: '0', realized: '0', ver: '0' };
    const pos = { qty: BigInt(p.qty), cost: BigInt(p.cost) };
    const effect = applyFill(pos, dq, px);
    const next = { acct, sym, qty: String(pos.qty), cost: String(pos.cost), realized: String(BigInt(p.realized) + effect.realized), ver: String(BigInt(p.ver) + 1n) };
    this.positions.set(key, next);
    return next;
  }

  /** Adds `n` fills (books picked at random) and returns them. */
  add(n: number): FillEvent[] {
    const out: FillEvent[] = [];
    for (let i = 0; i < n; i++) {
      const sym = this.o.symbols[this.int(0, this.o.symbols.length - 1)]!;
      const [maker, taker] = this.o.parties?.(this.rnd) ?? this.twoAccounts();
      // Gaps: a quarter in the same ms, others up to a minute, to hours, or rarely to days.
      const r = this.rnd();
      const m = this.o.meanGapMs;
      const gap = r < 0.25 ? 0 : r < 0.55 ? this.int(0, 60_000) : r < 0.9 ? this.int(0, Math.round(m * 2)) : this.int(0, Math.round(m * 6));
      const t = (this.clock.get(sym) ?? this.o.startMs) + gap;
      this.clock.set(sym, t);
      const seq = (this.counter.get(sym) ?? 0) + 1;
      this.counter.set(sym, seq);
      const px = BigInt(this.int(900, 1100));
      const qty = BigInt(this.int(1, 20));
      const takerSide = this.rnd() < 0.5 ? 'BUY' : 'SELL';
      const makerSide = takerSide === 'BUY' ? 'SELL' : 'BUY';
      const f: FillEvent = {
        id: `${sym}:F${seq}`, sym, px: String(px), qty: String(qty), time: String(t),
        maker: { order: `${sym}:m${seq}`, coid: '', acct: maker, side: makerSide },
        taker: { order: `${sym}:t${seq}`, coid: '', acct: taker, side: takerSide },
        positions: [this.move(maker, sym, makerSide === 'BUY' ? qty : -qty, px), this.move(taker, sym, takerSide === 'BUY' ? qty : -qty, px)],
      };
      this.fills.push(f);
      out.push(f);
    }
    return out;
  }

  private twoAccounts(): [string, string] {
    const a = this.o.accounts;
    const m = this.int(0, a.length - 1);
    const t = (m + this.int(1, a.length - 1)) % a.length;
    return [a[m]!, a[t]!];
  }

  /** The book's fill counter: fills 1..n of `sym` exist. */
  count(sym: string): number {
    return this.counter.get(sym) ?? 0;
  }
}

/** Fill events as the sync reads them from a stream. */
export function fillEntries(fills: readonly FillEvent[]): StreamEntry[] {
  return fills.map((f, i) => ({ stream: `{bk:${f.sym}}:events`, id: `${f.time}-${i}`, fields: ['k', 'fill', 'd', JSON.stringify(f)] }));
}
