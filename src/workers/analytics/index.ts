import type { UnaryHandler } from '../handler.js';
import { redisGuarded } from '../redis-guard.js';
import { getAccountStats } from './get-account-stats.js';
import { getCandles } from './get-candles.js';
import { getOrderBook } from './get-order-book.js';
import { getPortfolio } from './get-portfolio.js';
import { listTrades } from './list-trades.js';

export { CACHE_STATS_KEY, summarizeCacheStats } from './cache-stats.js';

const SERVICE = '/tierbook.v1.AnalyticsService';

/** Redis trouble (cache, book state) is UNAVAILABLE, not INTERNAL; reads are always safe to retry. */
const guarded = (h: UnaryHandler) => redisGuarded(h, { store: 'the analytics store', retryHint: ' later' });

/** AnalyticsService handlers by method path (docs/analytics.md). */
export const analyticsHandlers: Record<string, UnaryHandler> = {
  [`${SERVICE}/GetPortfolio`]: guarded(getPortfolio),
  [`${SERVICE}/ListTrades`]: guarded(listTrades),
  [`${SERVICE}/GetCandles`]: guarded(getCandles),
  [`${SERVICE}/GetOrderBook`]: guarded(getOrderBook),
  [`${SERVICE}/GetAccountStats`]: guarded(getAccountStats),
};
