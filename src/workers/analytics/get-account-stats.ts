import { create, toBinary } from '@bufbuild/protobuf';
import { formatRatio } from '../../domain/decimal.js';
import type { TierName } from '../../domain/tiers.js';
import { GetAccountStatsRequestSchema, GetAccountStatsResponseSchema, StatsWindow } from '../../gen/tierbook/v1/analytics_service_pb.js';
import type { UnaryHandler } from '../handler.js';
import { analyticsContext, type AnalyticsContext } from './analytics-context.js';
import type { WindowTotals } from './position-replay.js';
import { decodeRequest, invalidField } from '../request-decoding.js';
import { afterOrderKey, awaitOrderVersion } from './read-after.js';
import { historyReach } from './sync-position.js';
import { msTimestamp } from './request-checks.js';

/**
 * GetAccountStats: volume, notional, fill count, realized PnL, win rate and average fill size
 * over a window, from the rollups the sync keeps (migrations/0004_rollups.sql,
 * src/sync/account-ledger.ts): what each fill realized is stored with it, summed per minute,
 * hour and UTC day. A window [from, now) is the fills of its first partial minute plus whole
 * minutes up to the hour, whole hours up to the day and whole days: at most 59 + 23 + 31 rollup
 * rows and one minute of fills, whatever the account's history. Cached per account version.
 */
const DAY_MS = 86_400_000n;
const HOUR_MS = 3_600_000n;
const MINUTE_MS = 60_000n;
const METHOD = 'GetAccountStats';

/** The first instant of a window, epoch ms, at `nowMs`. */
export function windowStart(window: StatsWindow, nowMs: bigint): bigint {
  switch (window) {
    case StatsWindow.STATS_WINDOW_TODAY: return nowMs - (nowMs % DAY_MS);
    case StatsWindow.STATS_WINDOW_7D: return nowMs - 7n * DAY_MS;
    case StatsWindow.STATS_WINDOW_30D: return nowMs - 30n * DAY_MS;
    default: throw invalidField('window', 'must be STATS_WINDOW_TODAY, _7D or _30D');
  }
}

/** The first multiple of `width` at or after `ms`. */
const ceilTo = (ms: bigint, width: bigint) => ms + ((width - (ms % width)) % width);

/** Totals of the account's fills at or after `fromMs`, from the rollups. */
export async function accountTotals(a: AnalyticsContext, tier: TierName, accountId: string, fromMs: bigint): Promise<WindowTotals> {
  const m = ceilTo(fromMs, MINUTE_MS).toString();
  const h = ceilTo(fromMs, HOUR_MS).toString();
  const d = ceilTo(fromMs, DAY_MS).toString();
  const rows = await a.sql.run(tier, 'account-stats', { accountId, from: fromMs.toString() }, (sql) => sql<{ v: string; n: string; f: string; r: string; c: string; w: string }[]>`
    SELECT COALESCE(sum(volume), 0)::text AS v, COALESCE(sum(notional), 0)::text AS n, COALESCE(sum(fills), 0)::text AS f,
      COALESCE(sum(realized), 0)::text AS r, COALESCE(sum(closing), 0)::text AS c, COALESCE(sum(wins), 0)::text AS w
    FROM (
      SELECT abs(lots)::numeric AS volume, price::numeric * abs(lots) AS notional, 1::bigint AS fills,
        COALESCE(realized, 0) AS realized, closing::int::bigint AS closing, COALESCE(closing AND realized > 0, false)::int::bigint AS wins
      FROM account_fills
      WHERE account_id = ${accountId} AND executed_at >= tierbook_ms(${fromMs.toString()}::bigint) AND executed_at < tierbook_ms(${m}::bigint)
      UNION ALL
      SELECT volume, notional, fills, realized, closing, wins FROM account_rollups
      WHERE account_id = ${accountId} AND width_ms = 60000 AND bucket_ms >= ${m}::bigint AND bucket_ms < ${h}::bigint
      UNION ALL
      SELECT volume, notional, fills, realized, closing, wins FROM account_rollups
      WHERE account_id = ${accountId} AND width_ms = 3600000 AND bucket_ms >= ${h}::bigint AND bucket_ms < ${d}::bigint
      UNION ALL
      SELECT volume, notional, fills, realized, closing, wins FROM account_rollups
      WHERE account_id = ${accountId} AND width_ms = 86400000 AND bucket_ms >= ${d}::bigint
    ) x`);
  const r = rows[0]!;
  return { volume: BigInt(r.v), notional: BigInt(r.n), fills: BigInt(r.f), realized: BigInt(r.r), closing: BigInt(r.c), wins: BigInt(r.w) };
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
    const t = await accountTotals(a, call.tier, call.accountId, from);
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
