import type { Redis } from 'ioredis';
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import { ApiError } from '../domain/errors.js';
import { isTierName } from '../domain/tiers.js';
import { authKey, findPrincipalsInDb, type Principal } from '../shared/accounts-store.js';
import { crossSlotPipeline, lostConnection } from '../shared/redis.js';

interface Flight {
  promise: Promise<Principal | undefined>;
  resolve(p: Principal | undefined): void;
  reject(e: unknown): void;
}

const unavailable = (): ApiError => new ApiError('BACKEND_UNAVAILABLE', 'authentication is temporarily unavailable');

/**
 * The lookups of API keys the gateway's in-process cache does not hold, shared and batched.
 *
 * A burst of calls for keys not cached yet (a gateway just started, a cache expiry, many
 * accounts connecting at once) would otherwise send a Redis command per call, and N calls with
 * the same new key N lookups of it. Here a key hash has at most one lookup in flight, which
 * every call for it awaits (single-flight); and the distinct keys asked for in one turn of the
 * event loop are read together on the next `setImmediate` (as the CallBatcher batches calls):
 * one pipeline of HGETALLs to Redis, and for the keys Redis lacks, one Postgres query. A lone
 * miss leaves on the next `setImmediate`, so batching adds no waiting of its own.
 *
 * Results are never remembered here: a lookup that fails rejects its waiters and the next
 * call asks again; the Authenticator caches what is found.
 */
export class AuthLookups {
  private readonly inFlight = new Map<string, Flight>();
  private pending: string[] = [];

  constructor(private readonly deps: { redis: Redis; sql?: Sql; logger: Logger }) {}

  /** The account and tier of a key hash, or undefined for a key that is not (or no longer) valid. */
  lookup(keyHash: string): Promise<Principal | undefined> {
    const flying = this.inFlight.get(keyHash);
    if (flying) return flying.promise;
    let resolve!: Flight['resolve'];
    let reject!: Flight['reject'];
    const promise = new Promise<Principal | undefined>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.inFlight.set(keyHash, { promise, resolve, reject });
    if (this.pending.push(keyHash) === 1) setImmediate(() => void this.flush());
    return promise;
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    const settle = (keyHash: string, outcome: { principal?: Principal; error?: unknown }): void => {
      const flight = this.inFlight.get(keyHash)!;
      this.inFlight.delete(keyHash);
      if (outcome.error) flight.reject(outcome.error);
      else flight.resolve(outcome.principal);
    };
    let missing: string[];
    try {
      missing = await this.fromRedis(batch, settle);
    } catch (error) {
      for (const h of batch) settle(h, { error });
      return;
    }
    if (missing.length === 0) return;
    try {
      const found = await this.fromDb(missing);
      for (const h of missing) settle(h, { principal: found.get(h) });
    } catch (error) {
      for (const h of missing) settle(h, { error });
    }
  }

  /** Settles the keys Redis holds (or fails on); returns those it lacks. */
  private async fromRedis(batch: string[], settle: (h: string, o: { principal?: Principal; error?: unknown }) => void): Promise<string[]> {
    // Redis gone: ask Postgres (the truth) at once instead of waiting for the reconnects.
    if (lostConnection(this.deps.redis)) return batch;
    const replies = await crossSlotPipeline(this.deps.redis, batch.map((h) => ['hgetall', authKey(h)])).exec().catch((err: unknown) => {
      this.deps.logger.error({ err }, 'auth lookup in redis failed');
      throw unavailable();
    });
    const missing: string[] = [];
    let logged = false;
    batch.forEach((h, i) => {
      const [err, fields] = replies?.[i] ?? [new Error('no reply from redis'), null];
      if (err) {
        if (!logged) this.deps.logger.error({ err }, 'auth lookup in redis failed');
        logged = true;
        settle(h, { error: unavailable() });
        return;
      }
      const { account, tier } = (fields ?? {}) as Record<string, string | undefined>;
      if (account && tier && isTierName(tier)) settle(h, { principal: { accountId: account, tier } });
      else missing.push(h);
    });
    return missing;
  }

  /** One query for every key Redis lacked; puts the live ones back into Redis. */
  private async fromDb(keyHashes: string[]): Promise<Map<string, Principal>> {
    if (!this.deps.sql) return new Map();
    const found = await findPrincipalsInDb(this.deps.sql, keyHashes).catch((err: unknown) => {
      this.deps.logger.error({ err }, 'auth lookup in postgres failed');
      throw unavailable();
    });
    if (found.size > 0 && !lostConnection(this.deps.redis)) {
      const refill = [...found].map(([h, p]) => ['hset', authKey(h), 'account', p.accountId, 'tier', p.tier]);
      await crossSlotPipeline(this.deps.redis, refill).exec().catch(() => {});
    }
    return found;
  }
}
