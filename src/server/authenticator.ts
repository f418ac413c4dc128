import type { Metadata } from '@grpc/grpc-js';
import type { Redis } from 'ioredis';
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import { ApiError } from '../domain/errors.js';
import { isTierName } from '../domain/tiers.js';
import { authKey, findPrincipalInDb, hashApiKey, type Principal } from '../shared/accounts-store.js';
import { lostConnection } from '../shared/redis.js';

const MAX_CACHED = 50_000;

/**
 * API key -> account and tier, for every call. A hit in the in-process cache costs one
 * SHA-256; a miss reads Redis, and if Redis has lost the key (after a flush), Postgres, which
 * is the truth, and puts it back. The key itself is never stored or logged.
 */
export class Authenticator {
  private readonly cache = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly deps: { redis: Redis; sql?: Sql; cacheMs: number; logger: Logger },
  ) {}

  async authenticate(metadata: Metadata): Promise<Principal> {
    const header = metadata.get('authorization')[0];
    if (typeof header !== 'string' || header.length === 0) {
      throw new ApiError('MISSING_CREDENTIALS', 'missing "authorization: Bearer <api key>" metadata');
    }
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (!match) throw new ApiError('MISSING_CREDENTIALS', 'authorization metadata must be "Bearer <api key>"');
    const keyHash = hashApiKey(match[1]!);
    const now = Date.now();
    const cached = this.cache.get(keyHash);
    if (cached && cached.until > now) return cached.principal;

    const principal = (await this.fromRedis(keyHash)) ?? (await this.fromDb(keyHash));
    if (!principal) throw new ApiError('INVALID_API_KEY', 'the API key is not valid');
    if (this.deps.cacheMs > 0) {
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(keyHash, { principal, until: now + this.deps.cacheMs });
    }
    return principal;
  }

  private async fromRedis(keyHash: string): Promise<Principal | undefined> {
    // Redis gone: ask Postgres (the truth) at once instead of waiting for the reconnects.
    if (lostConnection(this.deps.redis)) return undefined;
    let fields: Record<string, string>;
    try {
      fields = await this.deps.redis.hgetall(authKey(keyHash));
    } catch (err) {
      this.deps.logger.error({ err }, 'auth lookup in redis failed');
      throw new ApiError('BACKEND_UNAVAILABLE', 'authentication is temporarily unavailable');
    }
    const tier = fields.tier;
    if (!fields.account || !tier || !isTierName(tier)) return undefined;
    return { accountId: fields.account, tier };
  }

  private async fromDb(keyHash: string): Promise<Principal | undefined> {
    if (!this.deps.sql) return undefined;
    const principal = await findPrincipalInDb(this.deps.sql, keyHash).catch((err: unknown) => {
      this.deps.logger.error({ err }, 'auth lookup in postgres failed');
      throw new ApiError('BACKEND_UNAVAILABLE', 'authentication is temporarily unavailable');
    });
    if (principal && !lostConnection(this.deps.redis)) {
      await this.deps.redis.hset(authKey(keyHash), 'account', principal.accountId, 'tier', principal.tier).catch(() => {});
    }
    return principal;
  }
}
