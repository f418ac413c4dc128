import { ApiError } from '../domain/errors.js';
import { poolOf, type PoolName, type TierName } from '../domain/tiers.js';

/**
 * An optional cap on the calls per second each pool admits in this gateway process: a local
 * token bucket, no Redis, checked before anything else costs work. It keeps the shared pool's
 * capacity a fraction of the host's, so a shared flood is refused while it is still cheap to
 * refuse and the CPU left over stays with premium (docs/protection.md, noisy neighbour).
 * A cap of 0 means none.
 */
export class PoolThrottle {
  private readonly buckets: Partial<Record<PoolName, { rate: number; burst: number; tokens: number; last: number }>> = {};

  constructor(caps: Record<PoolName, number>, private readonly now: () => number = () => performance.now()) {
    for (const pool of ['premium', 'shared'] as const) {
      const rate = caps[pool];
      // A tenth of a second of rate absorbs the jitter of arrivals without letting a flood in.
      if (rate > 0) this.buckets[pool] = { rate, burst: Math.max(1, rate / 10), tokens: Math.max(1, rate / 10), last: this.now() };
    }
  }

  /** Takes one call for the tier's pool or throws RESOURCE_EXHAUSTED / TIER_QUEUE_FULL. */
  take(tier: TierName): void {
    const pool = poolOf(tier);
    const b = this.buckets[pool];
    if (!b) return;
    const now = this.now();
    b.tokens = Math.min(b.burst, b.tokens + ((now - b.last) / 1000) * b.rate);
    b.last = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return;
    }
    const retryMs = Math.max(1, Math.ceil(((1 - b.tokens) / b.rate) * 1000));
    throw new ApiError('TIER_QUEUE_FULL', `the ${pool} pool is at its configured capacity of ${b.rate} calls/s; retry later`, {
      retry_delay_ms: String(retryMs),
      pool,
    });
  }
}
