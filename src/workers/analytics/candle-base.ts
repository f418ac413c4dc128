import type { TierName } from '../../domain/tiers.js';
import type { AnalyticsContext } from './analytics-context.js';
import { candlesFromJson, candlesToJson, type CandleRow } from './candle-math.js';
import { readFillTail, uncommittedFrom } from './fill-tail.js';

/**
 * The cacheable part of a candle answer: candles built in Postgres from every fill with a
 * sequence number below `n0`, plus the stream id `x` from which the stream holds every fill
 * from `n0` on. A reader adds the stream's fills from `x` (see get-candles.ts), so a cached
 * base serves fresh candles until the stream is trimmed past `x` or the tail grows long.
 */
export interface CandleBase {
  /** Stream id (or '-', or '(' id) from which fills n0.. are read. */
  x: string;
  /** First fill sequence not aggregated here. */
  n0: bigint;
  /** The bucket-aligned start this base covers from. */
  from: bigint;
  rows: CandleRow[];
}

/** How many stream entries a tail read scans at most before it gives up on freshness. */
export const TAIL_LIMIT = 5_000;

/** The latest instant tierbook_ms() takes: "no upper bound". */
const FOREVER = 8_640_000_000_000_000n;

/** Computes a base for [from, to) (`to` undefined: open-ended). */
export async function computeCandleBase(a: AnalyticsContext, tier: TierName, symbol: string, width: bigint, from: bigint, to: bigint | undefined): Promise<CandleBase> {
  // Boundary first, Postgres second: whatever commits in between is aggregated at most once,
  // because Postgres is asked only for fills below n0 and the stream supplies n0 onwards.
  const x = await uncommittedFrom(a.redis, symbol, a.config.sync.group);
  const tail = await readFillTail(a.redis, symbol, x, TAIL_LIMIT);
  // No fill in the tail: every fill up to the counter is committed. (A tail of TAIL_LIMIT
  // order events without one fill could hide later uncommitted fills; they then show up once
  // committed, after the next recompute. docs/analytics.md lists this corner.)
  const n0 = tail.fills[0]?.seq ?? tail.counter + 1n;
  const inputs = { symbol, width: width.toString(), from: from.toString(), to: to?.toString(), n0: n0.toString() };
  const rows = await a.sql.run(tier, 'candles', inputs, (sql) => sql<{ b: string; o: string; h: string; l: string; c: string; v: string; n: string }[]>`
    SELECT b::text AS b, (array_agg(price ORDER BY seq))[1]::text AS o, max(price)::text AS h,
      min(price)::text AS l, (array_agg(price ORDER BY seq DESC))[1]::text AS c,
      sum(quantity)::text AS v, count(*)::text AS n
    FROM (
      SELECT price, quantity, substr(fill_id, ${symbol.length + 3})::bigint AS seq,
        (floor(extract(epoch FROM executed_at) * 1000 / ${width.toString()}::bigint) * ${width.toString()}::bigint)::bigint AS b
      FROM fills
      WHERE symbol = ${symbol}
        AND executed_at >= tierbook_ms(${from.toString()}::bigint)
        AND executed_at < tierbook_ms(${(to ?? FOREVER).toString()}::bigint)
    ) f
    WHERE seq < ${n0.toString()}::bigint
    GROUP BY b ORDER BY b`);
  return {
    x,
    n0,
    from,
    rows: rows.map((r) => [BigInt(r.b), BigInt(r.o), BigInt(r.h), BigInt(r.l), BigInt(r.c), BigInt(r.v), BigInt(r.n)]),
  };
}

export function encodeCandleBase(b: CandleBase): Uint8Array {
  return Buffer.from(JSON.stringify({ x: b.x, n: b.n0.toString(), f: b.from.toString(), c: candlesToJson(b.rows) }));
}

export function decodeCandleBase(bytes: Uint8Array): CandleBase {
  const j = JSON.parse(Buffer.from(bytes).toString('utf8')) as { x: string; n: string; f: string; c: string[][] };
  return { x: j.x, n0: BigInt(j.n), from: BigInt(j.f), rows: candlesFromJson(j.c) };
}
