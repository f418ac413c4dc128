import { create, toBinary } from '@bufbuild/protobuf';
import { CandleSchema, GetCandlesRequestSchema, GetCandlesResponseSchema } from '../../gen/tierbook/v1/analytics_service_pb.js';
import { poolOf, type TierName } from '../../domain/tiers.js';
import type { UnaryHandler } from '../handler.js';
import { analyticsContext, listedSymbol, type AnalyticsContext } from './analytics-context.js';
import { computeCandleBase, decodeCandleBase, encodeCandleBase, TAIL_LIMIT, type CandleBase } from './candle-base.js';
import { bucketOf, INTERVAL_MS, foldFills, candlesIn, type CandleFill, type CandleRow } from './candle-math.js';
import { readFillTail, uncommittedFrom } from './fill-tail.js';
import { decodeRequest, invalidField } from '../request-decoding.js';
import { checkRange, msTimestamp, timestampMs } from './request-checks.js';

/**
 * GetCandles: a cached base from Postgres' candle rollups (candle-base.ts) plus the fills of the book's event
 * stream the base does not hold, read live on every call. The newest candle therefore
 * includes fills the sync has not committed yet, and `complete_through_time` is the Redis
 * time of that read: every fill stamped before it is in the answer.
 */
const DEFAULT_CANDLES = 500n;
const MAX_CANDLES = 5_000n;
const METHOD = 'GetCandles';
/** Stream entries past a cached base after which the base is recomputed (see answer()). */
const REBASE_AFTER = 1_000;

export interface CandleAnswer {
  rows: CandleRow[];
  completeThroughMs: bigint;
}

/**
 * The fills of the tail that follow the base without a gap (n0, n0+1, ...), and whether they
 * reach the book's counter. A gap means the stream was trimmed past the base: recompute.
 */
export function continuation(base: Pick<CandleBase, 'n0'>, fills: readonly CandleFill[], counter: bigint): { fills: CandleFill[]; gap: boolean; complete: boolean } {
  const out: CandleFill[] = [];
  let next = base.n0;
  for (const f of fills) {
    if (f.seq < next) continue; // already in the base (committed before it was computed)
    if (f.seq !== next) return { fills: out, gap: true, complete: false };
    out.push(f);
    next += 1n;
  }
  return { fills: out, gap: false, complete: next > counter };
}

async function answer(a: AnalyticsContext, tier: TierName, symbol: string, width: bigint, from: bigint, end: bigint | undefined, key: string): Promise<CandleAnswer> {
  const compute = async () => encodeCandleBase(await computeCandleBase(a, tier, symbol, width, from, end));
  let { bytes, fresh } = await a.cache.market(tier, METHOD, key, compute);
  // At most one recompute: a base made for this very call is served whatever its tail holds.
  for (let attempt = 0; ; attempt++) {
    const base = decodeCandleBase(bytes);
    const last = attempt > 0 || fresh;
    // A sliding window ("the last 500 candles") may have moved past what the base covers.
    if (base.from <= from || last) {
      const tail = await readFillTail(a.redis, symbol, base.x, TAIL_LIMIT);
      const cont = continuation(base, tail.fills, tail.counter);
      // Usable: the tail follows the base without a gap up to the book's fill counter (or up
      // to the scan limit). A cached base whose tail has grown long is rebased instead: one
      // Postgres aggregate then saves every later call from scanning the same entries again.
      const ok = !cont.gap && (cont.complete || tail.scanned >= TAIL_LIMIT);
      // Rebasing helps only if the sync has moved on since the base was made.
      const long = tail.scanned >= REBASE_AFTER && (await uncommittedFrom(a.redis, symbol, a.config.sync.group)) !== base.x;
      if ((ok && !long) || last) {
        const to = end ?? tail.nowMs + 1n;
        const unrolled = base.done.size ? cont.fills.filter((f) => !base.done.has(f.seq)) : cont.fills;
        const rows = candlesIn(foldFills(base.rows, unrolled, width, from, to), from, to);
        // Cut short (the scan limit, a sync far behind): complete up to the last fill read;
        // fill times never decrease along the stream. With nothing read, claim nothing.
        const lastRead = cont.fills[cont.fills.length - 1]?.timeMs;
        const through = cont.complete ? tail.nowMs : lastRead ?? from;
        return { rows, completeThroughMs: end !== undefined && end < through ? end : through };
      }
    }
    bytes = await a.cache.refresh(tier, METHOD, key, compute, true);
    fresh = true;
  }
}

export const getCandles: UnaryHandler = async (ctx, call) => {
  const req = decodeRequest(GetCandlesRequestSchema, call.payload);
  const a = await analyticsContext(ctx);
  const inst = listedSymbol(a, req.symbol);
  const width = INTERVAL_MS[req.interval];
  if (!width) throw invalidField('interval', 'must be CANDLE_INTERVAL_1M, _5M, _1H or _1D');
  const start = timestampMs(req.startTime, 'start_time');
  const end = timestampMs(req.endTime, 'end_time');
  checkRange(start, end);
  const horizon = end ?? BigInt(Date.now()) + width;
  const from = bucketOf(start ?? horizon - DEFAULT_CANDLES * width, width);
  if ((horizon - from) / width > MAX_CANDLES) {
    throw invalidField('start_time', `the range covers more than ${MAX_CANDLES} candles of this interval; narrow it or use a wider interval`);
  }
  // An open start slides with time: such bases are keyed by the width only and cover from
  // where they were computed; a reader whose window has moved past that start recomputes.
  const key = `tierbook:an:candles:v2:${poolOf(call.tier)}:${inst.symbol}:${width}:${start === undefined ? '-' : from}:${end ?? '-'}`;
  const res = await answer(a, call.tier, inst.symbol, width, from, end, key);
  return toBinary(GetCandlesResponseSchema, create(GetCandlesResponseSchema, {
    candles: res.rows.map((r) => create(CandleSchema, {
      startTime: msTimestamp(r[0]), openTicks: r[1], highTicks: r[2], lowTicks: r[3], closeTicks: r[4], volumeLots: r[5], tradeCount: r[6],
    })),
    completeThroughTime: msTimestamp(res.completeThroughMs),
  }));
};
