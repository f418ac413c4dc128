import type { UnaryHandler } from '../handler.js';
import { getAccountStats } from './get-account-stats.js';
import { getCandles } from './get-candles.js';
import { getOrderBook } from './get-order-book.js';
import { getPortfolio } from './get-portfolio.js';
import { listTrades } from './list-trades.js';

export { CACHE_STATS_KEY, summarizeCacheStats } from './cache-stats.js';

const SERVICE = '/tierbook.v1.AnalyticsService';

/** AnalyticsService handlers by method path (docs/analytics.md). */
export const analyticsHandlers: Record<string, UnaryHandler> = {
  [`${SERVICE}/GetPortfolio`]: getPortfolio,
  [`${SERVICE}/ListTrades`]: listTrades,
  [`${SERVICE}/GetCandles`]: getCandles,
  [`${SERVICE}/GetOrderBook`]: getOrderBook,
  [`${SERVICE}/GetAccountStats`]: getAccountStats,
};
