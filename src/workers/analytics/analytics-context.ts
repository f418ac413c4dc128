import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { refusal } from '../../domain/refusals.js';
import { invalidField } from '../request-decoding.js';
import type { Instrument } from '../../domain/matching/instrument.js';
import type { Config } from '../../shared/config.js';
import type { WorkerContext } from '../handler.js';
import { registryFor, type InstrumentRegistry } from '../orders/instruments-store.js';
import { CacheStats } from './cache-stats.js';
import { ReadCache } from './read-cache.js';
import { TierSql } from './tier-sql.js';

/** What the analytics handlers share within one worker thread. */
export interface AnalyticsContext {
  config: Config;
  redis: Redis;
  logger: Logger;
  registry: InstrumentRegistry;
  sql: TierSql;
  cache: ReadCache;
  stats: CacheStats;
}

const contexts = new WeakMap<object, Promise<AnalyticsContext>>();

/**
 * The thread's analytics context, made on its first analytics call: the per-tier Postgres
 * pools, the cache and its stats flusher, the instrument registry (shared with the order
 * handlers of the thread, loaded from the same file).
 */
export function analyticsContext(ctx: WorkerContext): Promise<AnalyticsContext> {
  let p = contexts.get(ctx.redis);
  if (!p) {
    p = (async () => {
      const registry = await registryFor(ctx.redis, ctx.config.orders.instrumentsFile);
      const logger = ctx.logger.child({ module: 'analytics' });
      // For Prometheus a shared wait is a hit (it did no work) and a stale entry is followed
      // by its miss, so it is not counted twice.
      const stats = new CacheStats((tier, method, outcome) => {
        if (outcome !== 'stale') ctx.metrics?.cacheLookup(method, tier, outcome !== 'miss');
      });
      stats.start(ctx.redis, logger);
      return {
        config: ctx.config,
        redis: ctx.redis,
        logger,
        registry,
        sql: new TierSql(ctx.config, logger),
        cache: new ReadCache(ctx.redis, ctx.config, stats),
        stats,
      };
    })();
    p.catch(() => contexts.delete(ctx.redis)); // a failed start is retried by the next call
    contexts.set(ctx.redis, p);
  }
  return p;
}

/** The listed instrument of a symbol field; UNKNOWN_SYMBOL (INVALID_ARGUMENT) otherwise. */
export function listedSymbol(a: AnalyticsContext, symbol: string, field = 'symbol'): Instrument {
  // Empty is a missing field, not an unknown symbol: say so, as PlaceOrder does.
  if (symbol === '') throw invalidField(field, 'is required');
  const inst = a.registry.get(symbol);
  if (!inst) {
    throw refusal('UNKNOWN_SYMBOL', { field, symbol });
  }
  return inst;
}
