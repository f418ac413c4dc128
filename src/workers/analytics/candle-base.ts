import type { TierName } from '../../domain/tiers.js';
import type { AnalyticsContext } from './analytics-context.js';
import { bucketOf, candlesFromJson, candlesToJson, combineCandles, type SeqCandle } from './candle-math.js';
import { readFillTail, uncommittedFrom } from './fill-tail.js';

/**
 * The cacheable part of a candle answer: the candles the sync has rolled up in Postgres
 * (candle_rollups, one row per candle: O(answer) whatever the symbol's history), plus the
 * stream id `x` from which the stream holds every fill from sequence `n0` on. Every fill
 * below `n0` is in the rollups; of the fills from `n0` on, the rollups hold exactly those
 * listed in `done` (committed between the boundary read and the query). A reader adds the
 * stream's other fills from `x` (see get-candles.ts), so a cached base serves fresh candles
 * until the stream is trimmed past `x` or the tail grows long.
 */
export interface CandleBase {
  /** Stream id (or '-', or '(' id) from which fills n0.. are read. */
  x: string;
  /** First fill sequence whose presence in the rollups is not implied. */
  n0: bigint;
  /** Fill sequences from n0 on that the rollups already hold. */
  done: Set<bigint>;
  /** The bucket-aligned start this base covers from. */
  from: bigint;
  rows: SeqCandle[];
}

/** How many stream entries a tail read scans at most before it gives up on freshness. */
export const TAIL_LIMIT = 5_000;

const HOUR_MS = 3_600_000n;
const MINUTE_MS = 60_000n;

/** The latest instant tierbook_ms() takes: "no upper bound". */
const FOREVER = 8_640_000_000_000_000n;

/** Computes a base for [from, to) (`to` undefined: open-ended). */
export async function computeCandleBase(a: AnalyticsContext, tier: TierName, symbol: string, width: bigint, from: bigint, to: bigint | undefined): Promise<CandleBase> {
  // Boundary first, Postgres second: every fill below n0 was committed before the query, and
  // the query itself (one statement, one snapshot) says which later ones it already holds.
  const x = await uncommittedFrom(a.redis, symbol, a.config.sync.group);
  const tail = await readFillTail(a.redis, symbol, x, TAIL_LIMIT);
  // No fill in the tail: every fill up to the counter is committed. (A tail of TAIL_LIMIT
  // order events without one fill could hide later uncommitted fills; they then show up once
  // committed, after the next recompute. docs/analytics.md lists this corner.)
  const n0 = tail.fills[0]?.seq ?? tail.counter + 1n;
  // Fills from n0 on are stamped no earlier than fill n0 (or than the read, if it has none).
  const since = tail.fills[0]?.timeMs ?? tail.nowMs;
  const end = to ?? FOREVER;
  // A range ending inside a bucket (an unaligned end_time) must leave out the bucket's fills
  // from `to` on: that last candle is put together from coarse-to-fine pieces of it, whole
  // hours and whole minutes from the rollups and the fills of the last partial minute, at
  // most 23 + 59 rows and one minute of fills. (Empty ranges when the end is aligned.)
  const last = bucketOf(end, width);
  const cut = to !== undefined && last !== to && last >= from ? last : end;
  const hour = cut === end ? end : width > HOUR_MS ? bucketOf(end, HOUR_MS) : last;
  const minute = cut === end ? end : bucketOf(end, MINUTE_MS);
  const n = (v: bigint) => v.toString();
  const inputs = { symbol, width: n(width), from: n(from), to: to?.toString(), n0: n(n0) };
  const rows = await a.sql.run(tier, 'candles', inputs, (sql) => sql<{ k: 'c' | 'p' | 'f' | 'd'; b: string; os: string | null; o: string | null; h: string | null; l: string | null; cs: string | null; c: string | null; v: string | null; n: string | null }[]>`
    SELECT 'c' AS k, bucket_ms::text AS b, open_seq::text AS os, open::text AS o, high::text AS h, low::text AS l,
      close_seq::text AS cs, close::text AS c, volume::text AS v, trades::text AS n
    FROM candle_rollups
    WHERE symbol = ${symbol} AND width_ms = ${n(width)}::bigint AND bucket_ms >= ${n(from)}::bigint AND bucket_ms < ${n(cut)}::bigint
    UNION ALL
    SELECT 'p', bucket_ms::text, open_seq::text, open::text, high::text, low::text, close_seq::text, close::text, volume::text, trades::text
    FROM candle_rollups
    WHERE symbol = ${symbol} AND ((width_ms = 3600000 AND bucket_ms >= ${n(cut)}::bigint AND bucket_ms < ${n(hour)}::bigint)
      OR (width_ms = 60000 AND bucket_ms >= ${n(hour)}::bigint AND bucket_ms < ${n(minute)}::bigint))
    UNION ALL
    SELECT 'f', '0', seq::text, price::text, price::text, price::text, seq::text, price::text, quantity::text, '1' FROM (
      SELECT tierbook_fill_seq(fill_id, symbol) AS seq, price, quantity FROM fills
      WHERE symbol = ${symbol} AND executed_at >= tierbook_ms(${n(minute)}::bigint) AND executed_at < tierbook_ms(${n(end)}::bigint)
    ) f WHERE seq IS NOT NULL
    UNION ALL
    SELECT 'd', seq::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM (
      SELECT tierbook_fill_seq(fill_id, symbol) AS seq FROM fills
      WHERE symbol = ${symbol} AND executed_at >= tierbook_ms(${n(since > from ? since : from)}::bigint) AND executed_at < tierbook_ms(${n(end)}::bigint)
    ) f WHERE seq >= ${n(n0)}::bigint`);
  const candles: SeqCandle[] = [];
  let partial: SeqCandle | undefined;
  const done = new Set<bigint>();
  for (const r of rows) {
    if (r.k === 'd') {
      done.add(BigInt(r.b));
      continue;
    }
    const c: SeqCandle = [r.k === 'c' ? BigInt(r.b) : cut, BigInt(r.os!), BigInt(r.o!), BigInt(r.h!), BigInt(r.l!), BigInt(r.cs!), BigInt(r.c!), BigInt(r.v!), BigInt(r.n!)];
    if (r.k === 'c') candles.push(c);
    else partial = partial ? combineCandles(partial, c) : c;
  }
  if (partial) candles.push(partial);
  candles.sort((p, q) => (p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : 0));
  return { x, n0, done, from, rows: candles };
}

export function encodeCandleBase(b: CandleBase): Uint8Array {
  return Buffer.from(JSON.stringify({ x: b.x, n: b.n0.toString(), d: [...b.done].map(String), f: b.from.toString(), c: candlesToJson(b.rows) }));
}

export function decodeCandleBase(bytes: Uint8Array): CandleBase {
  const j = JSON.parse(Buffer.from(bytes).toString('utf8')) as { x: string; n: string; d: string[]; f: string; c: string[][] };
  return { x: j.x, n0: BigInt(j.n), done: new Set(j.d.map((v) => BigInt(v))), from: BigInt(j.f), rows: candlesFromJson<SeqCandle>(j.c) };
}
