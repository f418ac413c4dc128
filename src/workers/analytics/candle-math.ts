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
 * A stored candle with the fill sequences of its open and close (candle_rollups), so fills
 * folded into it later may be older or newer than the ones it holds.
 */
export type SeqCandle = [start: bigint, openSeq: bigint, open: bigint, high: bigint, low: bigint, closeSeq: bigint, close: bigint, volume: bigint, count: bigint];

/**
 * Folds fills (each not yet counted in `base`; any order) into `base` candles and returns the
 * merged candles ascending by start. Open and close go to the lowest and highest sequence, so
 * the answer does not depend on the order fills arrive in. Fills outside [from, to) are
 * ignored. `base` is not modified.
 */
export function foldFills(base: readonly SeqCandle[], fills: readonly CandleFill[], width: bigint, from: bigint, to: bigint): CandleRow[] {
  const byStart = new Map<bigint, SeqCandle>();
  for (const c of base) byStart.set(c[0], [...c] as SeqCandle);
  for (const f of fills) {
    if (f.timeMs < from || f.timeMs >= to) continue;
    const b = bucketOf(f.timeMs, width);
    const c = byStart.get(b);
    if (!c) {
      byStart.set(b, [b, f.seq, f.price, f.price, f.price, f.seq, f.price, f.qty, 1n]);
      continue;
    }
    if (f.seq < c[1]) [c[1], c[2]] = [f.seq, f.price];
    if (f.price > c[3]) c[3] = f.price;
    if (f.price < c[4]) c[4] = f.price;
    if (f.seq > c[5]) [c[5], c[6]] = [f.seq, f.price];
    c[7] += f.qty;
    c[8] += 1n;
  }
  return [...byStart.values()]
    .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
    .map((c) => [c[0], c[2], c[3], c[4], c[6], c[7], c[8]]);
}

/** Two candles of disjoint fills as one (the pieces of a partial bucket), start from `a`. */
export function combineCandles(a: SeqCandle, b: SeqCandle): SeqCandle {
  const [first, last] = [b[1] < a[1] ? b : a, b[5] > a[5] ? b : a];
  return [a[0], first[1], first[2], a[3] > b[3] ? a[3] : b[3], a[4] < b[4] ? a[4] : b[4], last[5], last[6], a[7] + b[7], a[8] + b[8]];
}

/**
 * Folds fills (ascending by seq, all newer than every fill in `base`) into base candles
 * (ascending by start) and returns the merged list, ascending. Fills outside [from, to) are
 * ignored. `base` is not modified.
 */
export function mergeFills(base: readonly CandleRow[], fills: readonly CandleFill[], width: bigint, from: bigint, to: bigint): CandleRow[] {
  // "Older than every fill": sequence -1 for the base's open and close.
  return foldFills(base.map((c) => [c[0], -1n, c[1], c[2], c[3], -1n, c[4], c[5], c[6]]), fills, width, from, to);
}

/** The candles whose bucket starts inside [from, to): a sliding window over a cached base. */
export function candlesIn(candles: readonly CandleRow[], from: bigint, to: bigint): CandleRow[] {
  return candles.filter((c) => c[0] >= from && c[0] < to);
}

/** JSON-safe form of candle rows (bigints as strings) and back, for the cache. */
export function candlesToJson(rows: readonly (CandleRow | SeqCandle)[]): string[][] {
  return rows.map((r) => r.map(String));
}

export function candlesFromJson<R extends CandleRow | SeqCandle = CandleRow>(raw: string[][]): R[] {
  return raw.map((r) => r.map((v) => BigInt(v)) as R);
}
