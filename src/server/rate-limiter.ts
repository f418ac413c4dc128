import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ApiError } from '../domain/errors.js';
import type { TierName } from '../domain/tiers.js';
import type { TierConfig } from '../shared/config.js';
import { fromRoot } from '../shared/paths.js';
import { lostConnection } from '../shared/redis.js';

/** The script's source is read from the tree: dist/ holds no .lua files. */
const GCRA_SOURCE = readFileSync(fromRoot('src', 'server', 'lua', 'gcra.lua'), 'utf8');

/** Redis key of an account's rate-limit state; the hash tag keeps it in one cluster slot. */
export function rateLimitKey(accountId: string): string {
  return `rl:{${accountId}}`;
}

type GcraRedis = (Redis | Cluster) & {
  tierbook_gcra(key: string, intervalUs: string, burst: string, want: string): Promise<[number, number]>;
};

/**
 * A lease is what one call to Redis buys: this many calls' worth of the account's allowance
 * (charged in Redis at once), spent locally until it runs out or gets old. Sized to about
 * LEASE_MS of the tier's rate, at most a quarter of its burst, at least one call: a slow tier
 * leases one call at a time (exactly as before), a fast one saves a Redis round trip per call.
 */
export const LEASE_MS = 50;

export function leaseSize(ratePerSec: number, burst: number): number {
  return Math.max(1, Math.min(Math.floor(burst / 4), Math.floor((ratePerSec * LEASE_MS) / 1000)));
}

interface Lease {
  left: number;
  until: number;
  /** A lease being taken: concurrent calls of the account wait for it instead of asking too. */
  taking?: Promise<void>;
  /** The attempt could not reach Redis: the calls that waited for it fail open with it. */
  unreachable?: boolean;
}

/** Leases held at once per process; the oldest goes first past this (bounded memory). */
const MAX_LEASES = 100_000;

/** How often, at most, a Redis failure is logged (the hot path must not flood the log). */
const ERROR_LOG_EVERY_MS = 5_000;

/**
 * Per-account rate limits, enforced across every gateway process and host: one GCRA script
 * against the account's key in the shared Redis, on Redis's clock. A process leases several
 * calls at once (leaseSize) and spends them locally, so a busy account costs one Redis round
 * trip per lease, not per call. The limit still holds globally: leased calls are charged in
 * Redis when leased. The tolerance goes the other way: calls leased by one process but not
 * spent within LEASE_MS are lost, so with P processes an account may be refused while up to
 * P - 1 leases sit unspent elsewhere. An idle account's first call always gets a lease
 * (burst >= 1). Tiers with rate 0 are unlimited and cost nothing. If Redis cannot be reached
 * the call is let through (fail open): the limiter protects capacity, it must not become the
 * outage; the order path reports Redis trouble itself.
 */
export class RateLimiter {
  private readonly redis: GcraRedis;
  private readonly leases = new Map<string, Lease>();
  private lastErrorLog = 0;
  /** Leases taken from Redis (one round trip each), for tests and metrics. */
  leasesTaken = 0;

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
    for (;;) {
      const lease = this.leases.get(accountId);
      if (lease?.taking) {
        await lease.taking;
        // Each waiter trying Redis again in turn would queue every call of the account behind
        // one reconnect back-off after another (seconds each while Redis is down).
        if (lease.unreachable) return;
        continue;
      }
      if (lease && lease.left > 0 && Date.now() < lease.until) {
        lease.left--;
        return;
      }
      if (lostConnection(this.redis)) {
        // Fail open at once: a command sent now would wait for ioredis' reconnect back-off.
        this.logThrottled(new Error(`redis connection is ${this.redis.status}`));
        return;
      }
      const fresh: Lease = { left: 0, until: 0 };
      let outcome: { refusedUs?: number } = {};
      fresh.taking = this.lease(accountId, tier, fresh).then((o) => void (outcome = o));
      this.remember(accountId, fresh);
      await fresh.taking;
      fresh.taking = undefined;
      if (outcome.refusedUs !== undefined) throw this.refusal(tier, outcome.refusedUs);
      if (fresh.left > 0) {
        fresh.left--;
        return;
      }
      // Redis unreachable: fail open.
      return;
    }
  }

  private async lease(accountId: string, tier: TierName, into: Lease): Promise<{ refusedUs?: number }> {
    const { ratePerSec, burst } = this.tiers[tier];
    const intervalUs = Math.max(1, Math.round(1_000_000 / ratePerSec));
    let reply: [number, number];
    try {
      reply = await this.redis.tierbook_gcra(rateLimitKey(accountId), String(intervalUs), String(burst), String(leaseSize(ratePerSec, burst)));
    } catch (err) {
      this.logThrottled(err);
      into.unreachable = true;
      return {};
    }
    this.leasesTaken++;
    const granted = Number(reply[0]);
    if (granted < 1) return { refusedUs: Number(reply[1]) };
    into.left = granted;
    into.until = Date.now() + LEASE_MS;
    return {};
  }

  private logThrottled(err: unknown): void {
    const now = Date.now();
    if (now - this.lastErrorLog >= ERROR_LOG_EVERY_MS) {
      this.lastErrorLog = now;
      this.logger.error({ err }, 'rate limit check failed; letting calls through');
    }
  }

  private remember(accountId: string, lease: Lease): void {
    this.leases.delete(accountId); // re-inserted last: the map's order is its age
    if (this.leases.size >= MAX_LEASES) this.leases.delete(this.leases.keys().next().value as string);
    this.leases.set(accountId, lease);
  }

  private refusal(tier: TierName, retryUs: number): ApiError {
    const { ratePerSec, burst } = this.tiers[tier];
    const retryMs = Math.max(1, Math.ceil(retryUs / 1000));
    return new ApiError('RATE_LIMITED', `the ${tier} rate limit of ${ratePerSec} calls/s (burst ${burst}) is used up; retry in ${retryMs} ms`, {
      retry_delay_ms: String(retryMs),
      limit_per_second: String(ratePerSec),
      burst: String(burst),
    });
  }
}
