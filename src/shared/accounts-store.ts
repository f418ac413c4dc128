import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Sql } from 'postgres';
import { isTierName, type TierName } from '../domain/tiers.js';
import { crossSlotPipeline } from './redis.js';

/**
 * Accounts and API keys. Postgres is the truth; Redis holds `auth:<sha256>` -> {account, tier}
 * so the gateway's per-call lookup is one Redis hit (and usually none: it caches in memory).
 * Only the SHA-256 of a key is stored anywhere; the key is returned once, on creation.
 */

export interface Principal {
  accountId: string;
  tier: TierName;
}

export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex');
}

export function authKey(keyHash: string): string {
  return `auth:${keyHash}`;
}

/** API keys look like `tb_` + 43 url-safe base64 chars (256 random bits). */
export function newApiKey(): string {
  return `tb_${randomBytes(32).toString('base64url')}`;
}

export async function createAccount(
  sql: Sql,
  redis: Redis,
  input: { name: string; tier: TierName },
): Promise<Principal & { apiKey: string; name: string }> {
  const accountId = `acc_${randomUUID().replace(/-/g, '').slice(0, 20)}`;
  const apiKey = newApiKey();
  const keyHash = hashApiKey(apiKey);
  await sql.begin(async (tx) => {
    await tx`INSERT INTO accounts (account_id, name, tier) VALUES (${accountId}, ${input.name}, ${input.tier})`;
    await tx`INSERT INTO api_keys (key_hash, account_id) VALUES (${keyHash}, ${accountId})`;
  });
  await redis.hset(authKey(keyHash), 'account', accountId, 'tier', input.tier);
  return { accountId, apiKey, tier: input.tier, name: input.name };
}

/**
 * Looks key hashes up in Postgres (the truth), for when Redis lost them: one query for the
 * whole batch (an array parameter, so one prepared statement whatever the batch size).
 * Returns the live keys found; revoked and unknown ones are absent.
 */
export async function findPrincipalsInDb(sql: Sql, keyHashes: readonly string[]): Promise<Map<string, Principal>> {
  const rows = await sql<{ key_hash: string; account_id: string; tier: string }[]>`
    SELECT k.key_hash, a.account_id, a.tier FROM api_keys k JOIN accounts a USING (account_id)
    WHERE k.key_hash = ANY(${keyHashes as string[]}::text[]) AND k.revoked_at IS NULL`;
  const found = new Map<string, Principal>();
  for (const r of rows) if (isTierName(r.tier)) found.set(r.key_hash, { accountId: r.account_id, tier: r.tier });
  return found;
}

/** Copies every live key into Redis: after a Redis loss, or at stack start. */
export async function restoreAuthKeys(sql: Sql, redis: Redis): Promise<number> {
  const rows = await sql<{ key_hash: string; account_id: string; tier: string }[]>`
    SELECT k.key_hash, a.account_id, a.tier FROM api_keys k JOIN accounts a USING (account_id)
    WHERE k.revoked_at IS NULL`;
  const pipe = crossSlotPipeline(redis);
  for (const r of rows) pipe.hset(authKey(r.key_hash), 'account', r.account_id, 'tier', r.tier);
  await pipe.exec();
  return rows.length;
}

/** A new API key for an existing account (rotation: issue the new key, then revoke the old). */
export async function addApiKey(sql: Sql, redis: Redis, accountId: string): Promise<(Principal & { apiKey: string }) | undefined> {
  const [acct] = await sql<{ tier: string }[]>`SELECT tier FROM accounts WHERE account_id = ${accountId}`;
  if (!acct || !isTierName(acct.tier)) return undefined;
  const apiKey = newApiKey();
  const keyHash = hashApiKey(apiKey);
  await sql`INSERT INTO api_keys (key_hash, account_id) VALUES (${keyHash}, ${accountId})`;
  await redis.hset(authKey(keyHash), 'account', accountId, 'tier', acct.tier);
  return { accountId, tier: acct.tier, apiKey };
}

/**
 * Revokes one key (by the key itself) or every live key of an account: Postgres first (the
 * truth, and what the gateway falls back to), then the Redis entries. Gateway processes that
 * cached a key stop accepting it within TIERBOOK_AUTH_CACHE_MS. Returns the keys revoked.
 */
export async function revokeApiKeys(sql: Sql, redis: Redis, which: { apiKey: string } | { accountId: string }): Promise<number> {
  const rows = 'apiKey' in which
    ? await sql<{ key_hash: string }[]>`UPDATE api_keys SET revoked_at = now()
        WHERE key_hash = ${hashApiKey(which.apiKey)} AND revoked_at IS NULL RETURNING key_hash`
    : await sql<{ key_hash: string }[]>`UPDATE api_keys SET revoked_at = now()
        WHERE account_id = ${which.accountId} AND revoked_at IS NULL RETURNING key_hash`;
  if (rows.length > 0) await redis.del(...rows.map((r) => authKey(r.key_hash)));
  return rows.length;
}
