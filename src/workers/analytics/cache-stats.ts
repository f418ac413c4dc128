import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { TierName } from '../../domain/tiers.js';

/**
 * Hit and miss counts of the analytics cache. Each worker thread counts in memory and adds
 * its counts to one Redis hash every second, so the figures are summed over every thread of
 * every gateway process without any cross-thread plumbing: the metrics endpoint (prom-client
 * collect()) and the load-test report read `CACHE_STATS_KEY` with HGETALL.
 *
 * Fields are `<TIER>:<method>:<outcome>`, outcome one of `hit` (served from the cache),
 * `miss` (computed and stored), `shared` (a miss that joined a computation already running
 * in this thread: single-flight), `stale` (an entry found but unusable, e.g. the candle tail
 * was trimmed; counted as a miss too).
 */
export const CACHE_STATS_KEY = 'tierbook:analytics:cache-stats';

export type CacheOutcome = 'hit' | 'miss' | 'shared' | 'stale';

/** One thread's counters since its last flush. */
export class CacheStats {
  /**
   * `sink` also receives every outcome as it happens: the worker's prom-client metrics
   * (ctx.metrics.cacheLookup -> tierbook_cache_requests_total) in a gateway.
   */
  constructor(private readonly sink?: (tier: TierName, method: string, outcome: CacheOutcome) => void) {}

  private pending = new Map<string, number>();
  /** Totals since the thread started (never reset), for tests and logs. */
  readonly totals = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  record(tier: TierName, method: string, outcome: CacheOutcome): void {
    const field = `${tier}:${method}:${outcome}`;
    this.pending.set(field, (this.pending.get(field) ?? 0) + 1);
    this.totals.set(field, (this.totals.get(field) ?? 0) + 1);
    this.sink?.(tier, method, outcome);
  }

  /** Adds the pending counts to the shared hash; on failure they are kept for the next try. */
  async flush(redis: Redis): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const pipe = redis.pipeline();
    for (const [field, n] of batch) pipe.hincrby(CACHE_STATS_KEY, field, n);
    const results = await pipe.exec();
    if (results?.some(([err]) => err)) {
      for (const [field, n] of batch) this.pending.set(field, (this.pending.get(field) ?? 0) + n);
    }
  }

  /** Flushes every `everyMs` until stop(); the timer never keeps a thread alive. */
  start(redis: Redis, logger: Logger, everyMs = 1_000): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.flush(redis).catch((err: Error) => logger.debug({ err: err.message }, 'cache stats flush failed'));
    }, everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Sums a CACHE_STATS_KEY hash into per-tier hit and miss totals and the hit rate. */
export function summarizeCacheStats(hash: Record<string, string>): Record<string, { hits: number; misses: number; hitRate: number }> {
  const out: Record<string, { hits: number; misses: number; hitRate: number }> = {};
  for (const [field, raw] of Object.entries(hash)) {
    const [tier, , outcome] = field.split(':');
    if (!tier || !outcome) continue;
    const t = (out[tier] ??= { hits: 0, misses: 0, hitRate: 0 });
    // A shared wait did no work of its own: it counts as a hit for the hit rate.
    if (outcome === 'hit' || outcome === 'shared') t.hits += Number(raw);
    else if (outcome === 'miss') t.misses += Number(raw);
  }
  for (const t of Object.values(out)) t.hitRate = t.hits + t.misses === 0 ? 0 : t.hits / (t.hits + t.misses);
  return out;
}
