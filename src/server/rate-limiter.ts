import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ApiError } from '../domain/errors.js';
import type { TierName } from '../domain/tiers.js';
import type { TierConfig } from '../shared/config.js';
import { fromRoot } from '../shared/paths.js';

/** The script's source is read from the tree: dist/ holds no .lua files. */
const GCRA_SOURCE = readFileSync(fromRoot('src', 'server', 'lua', 'gcra.lua'), 'utf8');

/** Redis key of an account's rate-limit state; the hash tag keeps it in one cluster slot. */
export function rateLimitKey(accountId: string): string {
  return `rl:{${accountId}}`;
}

type GcraRedis = (Redis | Cluster) & {
  tierbook_gcra(key: string, intervalUs: string, burst: string): Promise<[number, number]>;
};

/** How often, at most, a Redis failure is logged (the hot path must not flood the log). */
const ERROR_LOG_EVERY_MS = 5_000;

/**
 * Per-account rate limits, enforced across every gateway process and host: each call runs
 * one GCRA script (one EVALSHA) against the account's key in the shared Redis, on Redis's
 * clock. Tiers with rate 0 are unlimited and cost nothing. If Redis cannot be reached the
 * call is let through (fail open): the limiter protects capacity, it must not become the
 * outage; the order path reports Redis trouble itself.
 */
export class RateLimiter {
  private readonly redis: GcraRedis;
  private lastErrorLog = 0;

  constructor(
    redis: Redis | Cluster,
    private readonly tiers: Readonly<Record<TierName, Pick<TierConfig, 'ratePerSec' | 'burst'>>>,
    private readonly logger: Logger,
  ) {
    // defineCommand sends EVALSHA and falls back to EVAL on NOSCRIPT (after a Redis restart).
    redis.defineCommand('tierbook_gcra', { lua: GCRA_SOURCE, numberOfKeys: 1 });
    this.redis = redis as GcraRedis;
  }

  /**
   * Takes one call from the account's allowance, or throws RESOURCE_EXHAUSTED with reason
   * RATE_LIMITED and `retry_delay_ms` (when the next call would be allowed) in ErrorInfo.
   */
  async take(accountId: string, tier: TierName): Promise<void> {
    const { ratePerSec, burst } = this.tiers[tier];
    if (ratePerSec <= 0) return;
    const intervalUs = Math.max(1, Math.round(1_000_000 / ratePerSec));
    let reply: [number, number];
    try {
      reply = await this.redis.tierbook_gcra(rateLimitKey(accountId), String(intervalUs), String(burst));
    } catch (err) {
      const now = Date.now();
      if (now - this.lastErrorLog >= ERROR_LOG_EVERY_MS) {
        this.lastErrorLog = now;
        this.logger.error({ err }, 'rate limit check failed; letting calls through');
      }
      return;
    }
    if (Number(reply[0]) === 1) return;
    const retryMs = Math.max(1, Math.ceil(Number(reply[1]) / 1000));
    throw new ApiError('RATE_LIMITED', `the ${tier} rate limit of ${ratePerSec} calls/s (burst ${burst}) is used up; retry in ${retryMs} ms`, {
      retry_delay_ms: String(retryMs),
      limit_per_second: String(ratePerSec),
      burst: String(burst),
    });
  }
}
