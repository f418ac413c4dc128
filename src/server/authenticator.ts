import type { Metadata } from '@grpc/grpc-js';
import type { Redis } from 'ioredis';
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import { ApiError } from '../domain/errors.js';
import { hashApiKey, type Principal } from '../shared/accounts-store.js';
import { AuthLookups } from './auth-lookups.js';

const MAX_CACHED = 50_000;

/**
 * API key -> account and tier, for every call. A hit in the in-process cache costs one
 * SHA-256; a miss reads Redis, and if Redis has lost the key (after a flush), Postgres, which
 * is the truth, and puts it back (AuthLookups: one lookup per key in flight, the misses of
 * one event-loop turn read together). The key itself is never stored or logged.
 */
export class Authenticator {
  private readonly cache = new Map<string, { principal: Principal; until: number }>();
  private readonly lookups: AuthLookups;

  constructor(
    private readonly deps: { redis: Redis; sql?: Sql; cacheMs: number; logger: Logger },
  ) {
    this.lookups = new AuthLookups(deps);
  }

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

    const principal = await this.lookups.lookup(keyHash);
    if (!principal) throw new ApiError('INVALID_API_KEY', 'the API key is not valid');
    if (this.deps.cacheMs > 0) {
      // Every call that shared the lookup lands here: only a key not cached yet makes room.
      if (!this.cache.has(keyHash) && this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(keyHash, { principal, until: now + this.deps.cacheMs });
    }
    return principal;
  }
}
