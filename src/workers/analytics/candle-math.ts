import { CandleInterval } from '../../gen/tierbook/v1/analytics_service_pb.js';

/**
 * Candle arithmetic, pure and exact: interval widths, buckets, and folding fills into
 * candles. A candle's open and close are the first and last fill by fill sequence (the
 * matching order of the book), not by timestamp, so two fills in one millisecond still have
 * a defined order.
 */

/** Interval widths in ms. Days are UTC days: epoch-aligned 86,400,000 ms buckets. */
export const INTERVAL_MS: Partial<Record<CandleInterval, bigint>> = {
  [CandleInterval.CANDLE_INTERVAL_1M]: 60_000n,
  [CandleInterval.CANDLE_INTERVAL_5M]: 300_000n,
  [CandleInterval.CANDLE_INTERVAL_1H]: 3_600_000n,
  [CandleInterval.CANDLE_INTERVAL_1D]: 86_400_000n,
};

/** The start of the bucket holding `ms`. */
export function bucketOf(ms: bigint, width: bigint): bigint {
  return ms - (((ms % width) + width) % width);
}

/** One candle under construction; `[start, open, high, low, close, volume, count]`. */
export type CandleRow = [start: bigint, open: bigint, high: bigint, low: bigint, close: bigint, volume: bigint, count: bigint];

/** A fill as candles need it: sequence in the book, time, price, quantity. */
export interface CandleFill {
  seq: bigint;
  timeMs: bigint;
  price: bigint;
  qty: bigint;
}

/**
 * Folds fills (ascending by seq, all newer than every fill in `base`) into base candles
 * (ascending by start) and returns the merged list, ascending. Fills outside [from, to) are
 * ignored. `base` is not modified.
 */
export function mergeFills(base: readonly CandleRow[], fills: readonly CandleFill[], width: bigint, from: bigint, to: bigint): CandleRow[] {
  const byStart = new Map<bigint, CandleRow>();
  for (const c of base) byStart.set(c[0], [...c] as CandleRow);
  for (const f of fills) {
    if (f.timeMs < from || f.timeMs >= to) continue;
    const b = bucketOf(f.timeMs, width);
    const c = byStart.get(b);
    if (!c) {
      byStart.set(b, [b, f.price, f.price, f.price, f.price, f.qty, 1n]);
      continue;
    }
    if (f.price > c[2]) c[2] = f.price;
    if (f.price < c[3]) c[3] = f.price;
    c[4] = f.price;
    c[5] += f.qty;
    c[6] += 1n;
  }
  return [...byStart.values()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
}

/** The candles whose bucket starts inside [from, to): a sliding window over a cached base. */
export function candlesIn(candles: readonly CandleRow[], from: bigint, to: bigint): CandleRow[] {
  return candles.filter((c) => c[0] >= from && c[0] < to);
}

/** JSON-safe form of candle rows (bigints as strings) and back, for the cache. */
export function candlesToJson(rows: readonly CandleRow[]): string[][] {
  return rows.map((r) => r.map(String));
}

export function candlesFromJson(raw: string[][]): CandleRow[] {
  return raw.map((r) => r.map((v) => BigInt(v)) as CandleRow);
}
