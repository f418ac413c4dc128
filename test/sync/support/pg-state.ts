/** Reads back what the sync wrote, for comparisons with Redis and the producer's model. */
import type { Redis } from 'ioredis';
import type { Sql } from 'postgres';
import { scanKeys } from '../../../src/shared/redis.js';

export interface PositionRow {
  account_id: string;
  symbol: string;
  quantity: string;
  cost_basis: string;
  realized_pnl: string;
  ver: string;
}

export async function pgPositions(sql: Sql): Promise<Map<string, PositionRow>> {
  const rows = await sql<PositionRow[]>`SELECT account_id, symbol, quantity::text, cost_basis::text, realized_pnl::text, ver::text FROM positions`;
  return new Map(rows.map((r) => [`${r.account_id}/${r.symbol}`, { ...r }]));
}

/** Positions as the engine keeps them in Redis (`{bk:SYM}:a:<len>:<acct>:pos`). */
export async function redisPositions(redis: Redis): Promise<Map<string, PositionRow>> {
  const out = new Map<string, PositionRow>();
  const keys: string[] = [];
  await scanKeys(redis, '{bk:*}:a:*:pos', [], (ks) => void keys.push(...ks)); // every master of a cluster
  for (const key of keys) {
    const m = /^\{bk:(.+)\}:a:(\d+):(.*):pos$/.exec(key);
    if (!m) continue;
    const sym = m[1] as string;
    const acct = (m[3] as string).slice(0, Number(m[2]));
    const h = await redis.hgetall(key);
    out.set(`${acct}/${sym}`, { account_id: acct, symbol: sym, quantity: h.qty ?? '0', cost_basis: h.cost ?? '0', realized_pnl: h.realized ?? '0', ver: h.ver ?? '0' });
  }
  return out;
}

/** Waits until `check` returns true, polling; throws with `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
