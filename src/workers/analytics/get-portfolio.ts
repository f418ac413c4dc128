import { create, toBinary } from '@bufbuild/protobuf';
import { formatRatio } from '../../domain/decimal.js';
import { bookStateKey } from '../../domain/matching/keys.js';
import type { TierName } from '../../domain/tiers.js';
import { GetPortfolioRequestSchema, GetPortfolioResponseSchema, PositionSchema } from '../../gen/tierbook/v1/analytics_service_pb.js';
import type { UnaryHandler } from '../handler.js';
import { analyticsContext, type AnalyticsContext } from './analytics-context.js';
import { decodeRequest } from '../request-decoding.js';
import { msTimestamp } from './request-checks.js';
import { afterOrderKey, awaitOrderVersion } from './read-after.js';
import { historyReach } from './sync-position.js';
import { crossSlotPipeline } from '../../shared/redis.js';

/**
 * GetPortfolio. Positions come from Postgres (what the sync committed), cached per account
 * version; marks (last trade prices) are read live from the books on every call, so the
 * cached part changes only when the account trades and unrealized PnL is never staler than
 * one Redis round trip. All amounts are ticks*lots, kept as bigint until formatted.
 */
export interface PositionRow {
  symbol: string;
  qty: bigint;
  cost: bigint;
  realized: bigint;
}

/** Exact PnL figures of one position at a mark. Average price = cost / quantity. */
export function valuePosition(p: PositionRow, mark: bigint): { average: string; unrealized: bigint } {
  return {
    average: p.qty === 0n ? '0' : formatRatio(p.cost, p.qty),
    // Marked to market: what closing now at the mark would realize. No mark, no opinion.
    unrealized: mark === 0n || p.qty === 0n ? 0n : p.qty * mark - p.cost,
  };
}

const METHOD = 'GetPortfolio';

/** The account's positions from the history, and how far that history reached (epoch ms). */
async function positions(a: AnalyticsContext, tier: TierName, accountId: string, argsSuffix: string): Promise<{ rows: PositionRow[]; reachMs: number }> {
  // 'p2': entries carry their reach ({w, p}); 'p' entries (bare row lists) are never read.
  const bytes = await a.cache.account(tier, METHOD, accountId, `p2${argsSuffix}`, async () => {
    const w = await historyReach(a);
    const rows = await a.sql.run(tier, 'portfolio', { accountId }, (sql) => sql<{ symbol: string; q: string; c: string; r: string }[]>`
      SELECT symbol, quantity::text AS q, cost_basis::text AS c, realized_pnl::text AS r
      FROM positions WHERE account_id = ${accountId} ORDER BY symbol`);
    return Buffer.from(JSON.stringify({ w, p: rows.map((r) => [r.symbol, r.q, r.c, r.r]) }));
  });
  const raw = JSON.parse(Buffer.from(bytes).toString('utf8')) as { w: number; p: [string, string, string, string][] };
  return { reachMs: raw.w, rows: raw.p.map(([symbol, q, c, r]) => ({ symbol, qty: BigInt(q), cost: BigInt(c), realized: BigInt(r) })) };
}

export const getPortfolio: UnaryHandler = async (ctx, call) => {
  const req = decodeRequest(GetPortfolioRequestSchema, call.payload);
  const a = await analyticsContext(ctx);
  await awaitOrderVersion(a, call, req.afterOrder);
  const { rows, reachMs } = await positions(a, call.tier, call.accountId, afterOrderKey(req.afterOrder));
  const marks = rows.length === 0 ? [] : await crossSlotPipeline(ctx.redis, rows.map((p) => ['hget', bookStateKey(p.symbol), 'last'])).exec();
  let totalRealized = 0n;
  let totalUnrealized = 0n;
  const out = rows.map((p, i) => {
    const last = marks?.[i]?.[1];
    const mark = typeof last === 'string' && /^\d+$/.test(last) ? BigInt(last) : 0n;
    const v = valuePosition(p, mark);
    totalRealized += p.realized;
    totalUnrealized += v.unrealized;
    return create(PositionSchema, {
      symbol: p.symbol,
      quantityLots: p.qty,
      averagePriceTicks: v.average,
      realizedPnl: p.realized.toString(),
      unrealizedPnl: v.unrealized.toString(),
      markPriceTicks: mark,
    });
  });
  return toBinary(GetPortfolioResponseSchema, create(GetPortfolioResponseSchema, {
    positions: out,
    totalRealizedPnl: totalRealized.toString(),
    totalUnrealizedPnl: totalUnrealized.toString(),
    asOfTime: msTimestamp(Date.now()),
    consistentThroughTime: msTimestamp(reachMs),
  }));
};
