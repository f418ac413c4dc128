import type { TierName } from '../../domain/tiers.js';
import type { AnalyticsContext } from './analytics-context.js';
import { candlesFromJson, candlesToJson, type SeqCandle } from './candle-math.js';
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
  const inputs = { symbol, width: width.toString(), from: from.toString(), to: to?.toString(), n0: n0.toString() };
  const rows = await a.sql.run(tier, 'candles', inputs, (sql) => sql<{ b: string; os: string | null; o: string | null; h: string | null; l: string | null; cs: string | null; c: string | null; v: string | null; n: string | null }[]>`
    SELECT bucket_ms::text AS b, open_seq::text AS os, open::text AS o, high::text AS h, low::text AS l,
      close_seq::text AS cs, close::text AS c, volume::text AS v, trades::text AS n
    FROM candle_rollups
    WHERE symbol = ${symbol} AND width_ms = ${width.toString()}::bigint
      AND bucket_ms >= ${from.toString()}::bigint AND bucket_ms < ${end.toString()}::bigint
    UNION ALL
    SELECT seq::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM (
      SELECT tierbook_fill_seq(fill_id, symbol) AS seq FROM fills
      WHERE symbol = ${symbol}
        AND executed_at >= tierbook_ms(${(since > from ? since : from).toString()}::bigint)
        AND executed_at < tierbook_ms(${end.toString()}::bigint)
    ) f WHERE seq >= ${n0.toString()}::bigint`);
  const candles: SeqCandle[] = [];
  const done = new Set<bigint>();
  for (const r of rows) {
    if (r.n === null) done.add(BigInt(r.b));
    else candles.push([BigInt(r.b), BigInt(r.os!), BigInt(r.o!), BigInt(r.h!), BigInt(r.l!), BigInt(r.cs!), BigInt(r.c!), BigInt(r.v!), BigInt(r.n)]);
  }
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
