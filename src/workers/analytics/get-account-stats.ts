import { create, toBinary } from '@bufbuild/protobuf';
import { formatRatio } from '../../domain/decimal.js';
import type { TierName } from '../../domain/tiers.js';
import { GetAccountStatsRequestSchema, GetAccountStatsResponseSchema, StatsWindow } from '../../gen/tierbook/v1/analytics_service_pb.js';
import type { UnaryHandler } from '../handler.js';
import { analyticsContext, type AnalyticsContext } from './analytics-context.js';
import { StatsReplay, type WindowTotals } from './position-replay.js';
import { decodeRequest, invalidField } from '../request-decoding.js';
import { afterOrderKey, awaitOrderVersion } from './read-after.js';
import { historyReach } from './sync-position.js';
import { msTimestamp } from './request-checks.js';

/**
 * GetAccountStats: volume, notional, fill count, realized PnL, win rate and average fill size
 * over a window. Realized PnL per fill is not stored, so the account's fills are replayed
 * from its first one through the same average-cost model as the matcher (position-replay.ts),
 * streamed from a Postgres cursor in book order, in this worker thread; the result is cached
 * per account version, so the replay runs once per account per commit of its fills.
 */
const DAY_MS = 86_400_000n;
const METHOD = 'GetAccountStats';
const CHUNK = 1000;

/** The first instant of a window, epoch ms, at `nowMs`. */
export function windowStart(window: StatsWindow, nowMs: bigint): bigint {
  switch (window) {
    case StatsWindow.STATS_WINDOW_TODAY: return nowMs - (nowMs % DAY_MS);
    case StatsWindow.STATS_WINDOW_7D: return nowMs - 7n * DAY_MS;
    case StatsWindow.STATS_WINDOW_30D: return nowMs - 30n * DAY_MS;
    default: throw invalidField('window', 'must be STATS_WINDOW_TODAY, _7D or _30D');
  }
}

/** Replays the account's whole history through a cursor; memory is one position per symbol. */
export async function replayAccount(a: AnalyticsContext, tier: TierName, accountId: string, fromMs: bigint): Promise<WindowTotals> {
  const replay = new StatsReplay(fromMs);
  await a.sql.run(tier, 'account-stats', { accountId, from: fromMs.toString() }, async (sql) => {
    const cursor = sql<{ symbol: string; side: 'BUY' | 'SELL'; px: string; qty: string; t: string }[]>`
      SELECT symbol, side, price::text AS px, quantity::text AS qty, t FROM (
        SELECT symbol, CASE WHEN maker_account_id = ${accountId} THEN maker_side ELSE taker_side END AS side,
          price, quantity, floor(extract(epoch FROM executed_at) * 1000)::bigint::text AS t,
          substr(fill_id, length(symbol) + 3)::bigint AS seq
        FROM fills WHERE maker_account_id = ${accountId} OR taker_account_id = ${accountId}
      ) f ORDER BY symbol, seq`.cursor(CHUNK);
    for await (const rows of cursor) {
      for (const r of rows) replay.add(r.symbol, r.side, BigInt(r.px), BigInt(r.qty), BigInt(r.t));
    }
  });
  return replay.totals;
}

export const getAccountStats: UnaryHandler = async (ctx, call) => {
  const req = decodeRequest(GetAccountStatsRequestSchema, call.payload);
  const now = BigInt(Date.now());
  const from = windowStart(req.window, now);
  const a = await analyticsContext(ctx);
  // The UTC day in the key: "today" must not outlive midnight. 7/30-day windows slide by at
  // most one TTL while cached.
  await awaitOrderVersion(a, call, req.afterOrder);
  const args = `${req.window}:${now / DAY_MS}${afterOrderKey(req.afterOrder)}`;
  return a.cache.account(call.tier, METHOD, call.accountId, args, async () => {
    const reach = await historyReach(a);
    const t = await replayAccount(a, call.tier, call.accountId, from);
    return toBinary(GetAccountStatsResponseSchema, create(GetAccountStatsResponseSchema, {
      consistentThroughTime: msTimestamp(reach),
      window: req.window,
      volumeLots: t.volume,
      notional: t.notional.toString(),
      fillCount: t.fills,
      realizedPnl: t.realized.toString(),
      winRate: t.closing === 0n ? '0' : formatRatio(t.wins, t.closing),
      averageFillLots: t.fills === 0n ? '0' : formatRatio(t.volume, t.fills),
    }));
  });
};
