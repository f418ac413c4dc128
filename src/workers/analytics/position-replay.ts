/**
 * The average-cost position model of the matching engine (applyPosition in
 * src/workers/orders/lua/common.lua), replayed in exact bigint arithmetic over an account's
 * fills. Postgres keeps only each position's latest state; replaying the fills in book order
 * recovers what each single fill realized, which account statistics need (realized PnL and
 * win rate over a window). The replay must match the Lua rounding exactly: closing k of |q|
 * lots releases floor(|cost| * k / |q|) of cost, the residue stays with the open lots.
 */
export interface ReplayPosition {
  qty: bigint;
  cost: bigint;
}

export interface FillEffect {
  /** PnL this fill realized, ticks*lots (0 for an opening fill). */
  realized: bigint;
  /** Whether the fill closed (part of) a position: the fills a win rate counts. */
  closing: boolean;
}

const abs = (n: bigint) => (n < 0n ? -n : n);

/** Applies `dq` signed lots at `px` to `p` (mutated) and returns what the fill realized. */
export function applyFill(p: ReplayPosition, dq: bigint, px: bigint): FillEffect {
  if (p.qty === 0n || (p.qty > 0n) === (dq > 0n)) {
    p.qty += dq;
    p.cost += dq * px;
    return { realized: 0n, closing: false };
  }
  const aq = abs(p.qty);
  const ac = abs(p.cost);
  const adq = abs(dq);
  const k = adq < aq ? adq : aq;
  const a = ac / aq;
  const released = a * k + ((ac - a * aq) * k) / aq;
  let realized: bigint;
  if (p.qty > 0n) {
    realized = px * k - released;
    p.cost -= released;
    p.qty -= k;
  } else {
    realized = released - px * k;
    p.cost += released;
    p.qty += k;
  }
  if (adq > k) {
    // The fill flips the position: the remainder opens at px.
    const rest = adq - k;
    p.qty = dq > 0n ? rest : -rest;
    p.cost = p.qty * px;
  }
  return { realized, closing: true };
}

/** Running totals of fills inside a window. */
export interface WindowTotals {
  volume: bigint;
  notional: bigint;
  fills: bigint;
  realized: bigint;
  closing: bigint;
  wins: bigint;
}

export function emptyTotals(): WindowTotals {
  return { volume: 0n, notional: 0n, fills: 0n, realized: 0n, closing: 0n, wins: 0n };
}

/**
 * Replays one account's fills, fed in book order per symbol, and totals those at or after
 * `fromMs`. Feed with `add`; positions are kept per symbol.
 */
export class StatsReplay {
  readonly positions = new Map<string, ReplayPosition>();
  readonly totals = emptyTotals();

  constructor(private readonly fromMs: bigint) {}

  add(symbol: string, side: 'BUY' | 'SELL', px: bigint, qty: bigint, timeMs: bigint): void {
    let p = this.positions.get(symbol);
    if (!p) this.positions.set(symbol, (p = { qty: 0n, cost: 0n }));
    const effect = applyFill(p, side === 'BUY' ? qty : -qty, px);
    if (timeMs < this.fromMs) return;
    const t = this.totals;
    t.volume += qty;
    t.notional += px * qty;
    t.fills += 1n;
    t.realized += effect.realized;
    if (effect.closing) {
      t.closing += 1n;
      if (effect.realized > 0n) t.wins += 1n;
    }
  }
}
