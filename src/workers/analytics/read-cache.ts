import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { accountVersionKey } from '../../sync/account-version.js';
import type { TierName } from '../../domain/tiers.js';
import type { Config } from '../../shared/config.js';
import type { CacheStats } from './cache-stats.js';

/**
 * The analytics result cache in Redis, per tier.
 *
 * Account results (portfolio, trades, stats) live at `acct:{A}:ver:an:<version>:<method>:<args>`,
 * where `<version>` is the account version the sync thread bumps after it commits the
 * account's fills. A reader first reads the version and then the entry for it, in one Lua
 * call (both keys share the `{A}` hash tag, so it runs on a Redis Cluster unchanged): after a
 * commit the old entry is simply never asked for again and expires on its tier's TTL, so a
 * reader sees its own fills within the sync lag, not after the TTL.
 *
 * Concurrent misses for one key compute once: within a thread on a map of promises, and
 * across threads and processes with a short Redis lock (`<key>:lock`, SET NX) whose holder
 * computes while the others wait for its entry. A holder that does not finish within
 * LOCK_MS (slow, or its process died) no longer blocks anyone: the waiters compute.
 */

/** How long one miss may hold the compute lock, and how long the others wait for it. */
const LOCK_MS = 1_000;
/** How often a waiter looks for the entry the lock holder is computing. */
const POLL_MS = 5;

/** Deletes the lock only if it is still ours (it may have expired and been taken). */
const UNLOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

const LOOKUP = `
local v = redis.call('GET', KEYS[1]) or '0'
return { v, redis.call('GET', ARGV[1] .. v .. ':' .. ARGV[2]) }
`;

type LookupCommand = (versionKey: string, prefix: string, suffix: string) => Promise<[Buffer, Buffer | null]>;

export class ReadCache {
  private readonly inflight = new Map<string, Promise<Uint8Array>>();
  private readonly lookup: LookupCommand;

  constructor(
    private readonly redis: Redis,
    private readonly config: Config,
    private readonly stats: CacheStats,
  ) {
    redis.defineCommand('tierbook_an_lookup', { lua: LOOKUP, numberOfKeys: 1 });
    const r = redis as unknown as Record<string, (...a: string[]) => Promise<[Buffer, Buffer | null]>>;
    this.lookup = (k, p, s) => r['tierbook_an_lookupBuffer']!.call(redis, k, p, s);
  }

  /**
   * The cached bytes of an account-scoped result, or `compute()`'s, stored for the tier's TTL
   * under the account's current version. `args` must identify the request completely.
   */
  async account(tier: TierName, method: string, accountId: string, args: string, compute: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const ttl = this.config.tiers[tier].cacheTtlMs;
    if (ttl === 0) return compute();
    // Built on the version key itself, so both always share its hash tag (one slot).
    const prefix = `${accountVersionKey(accountId)}:an:`;
    const suffix = `${method}:${args}`;
    const [version, hit] = await this.lookup(accountVersionKey(accountId), prefix, suffix);
    if (hit) {
      this.stats.record(tier, method, 'hit');
      // A reply Buffer may be a view into ioredis' socket chunk; the result crosses to the
      // gateway thread by structured clone, which would copy the whole chunk. Copy the view.
      return new Uint8Array(hit);
    }
    const key = `${prefix}${version.toString()}:${suffix}`;
    // Computed after the version was read, so the entry is at least as new as its key says.
    return this.once(tier, method, key, () => this.computeOnce(key, ttl, compute));
  }

  /**
   * Market-scoped entries (candle bases): plain get/set under `key` for the tier's TTL, with
   * the same single-flight. `fresh` says the bytes were computed by this call.
   */
  async market(tier: TierName, method: string, key: string, compute: () => Promise<Uint8Array>): Promise<{ bytes: Uint8Array; fresh: boolean }> {
    if (this.config.tiers[tier].cacheTtlMs > 0) {
      const found = await this.redis.getBuffer(key);
      if (found) {
        this.stats.record(tier, method, 'hit');
        return { bytes: found, fresh: false };
      }
    }
    return { bytes: await this.refresh(tier, method, key, compute), fresh: true };
  }

  /** Computes and stores a market entry regardless of what is cached (the found one was unusable). */
  refresh(tier: TierName, method: string, key: string, compute: () => Promise<Uint8Array>, stale = false): Promise<Uint8Array> {
    if (stale) this.stats.record(tier, method, 'stale');
    const ttl = this.config.tiers[tier].cacheTtlMs;
    if (ttl === 0) return compute();
    return this.once(tier, method, key, () => this.computeOnce(key, ttl, compute));
  }

  /**
   * Computes and stores `key` unless another thread or process already is: then waits for
   * its entry. The lock key extends `key`, so it keeps the key's hash tag (same cluster slot).
   */
  private async computeOnce(key: string, ttl: number, compute: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const lock = `${key}:lock`;
    const token = randomUUID();
    const mine = (await this.redis.set(lock, token, 'PX', LOCK_MS, 'NX')) === 'OK';
    if (!mine) {
      for (const until = Date.now() + LOCK_MS; Date.now() < until; ) {
        await sleep(POLL_MS);
        const found = await this.redis.getBuffer(key);
        if (found) return new Uint8Array(found);
      }
    }
    try {
      const bytes = await compute();
      await this.redis.set(key, Buffer.from(bytes), 'PX', ttl);
      return bytes;
    } finally {
      if (mine) await this.redis.eval(UNLOCK, 1, lock, token);
    }
  }

  /** Single-flight: the first miss computes, later ones for the same key wait for it. */
  private once(tier: TierName, method: string, key: string, run: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const running = this.inflight.get(key);
    if (running) {
      this.stats.record(tier, method, 'shared');
      return running;
    }
    this.stats.record(tier, method, 'miss');
    const p = run().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }
}
