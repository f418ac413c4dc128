/**
 * The matching engine's hot state of some books, without wall-clock fields (ctime, utime and
 * the list members built from them differ between two runs of the same flow), so two runs
 * can be compared with deepEqual.
 */
import type { Redis } from 'ioredis';
import { scanKeys } from '../../../src/shared/redis.js';
import { bookStateKey, levelsKey, queueKey } from '../../../src/domain/matching/keys.js';

/** Every key matching on every master (a cluster's SCAN is node-local), sorted. */
async function scanAll(redis: Redis, match: string): Promise<string[]> {
  const out: string[] = [];
  await scanKeys(redis, match, [], (keys) => void out.push(...keys));
  return out.sort();
}

export async function snapshotBooks(redis: Redis, symbols: readonly string[]): Promise<Record<string, unknown>> {
  const snap: Record<string, unknown> = {};
  for (const sym of symbols) {
    const orders: Record<string, Record<string, string>> = {};
    for (const key of await scanAll(redis, `{bk:${sym}}:o:*`)) {
      const { ctime, utime, lx, ...rest } = await redis.hgetall(key);
      void ctime; void utime; void lx;
      orders[key] = rest;
    }
    const levels: Record<string, unknown> = {};
    for (const side of ['B', 'S'] as const) {
      const prices = await redis.zrange(levelsKey(sym, side), '0', '-1');
      levels[side] = await Promise.all(prices.map(async (px) => [px, await redis.zrange(queueKey(sym, side, px), '0', '-1', 'WITHSCORES')]));
    }
    const positions: Record<string, Record<string, string>> = {};
    for (const key of await scanAll(redis, `{bk:${sym}}:a:*:pos`)) {
      const h = await redis.hgetall(key);
      // A field the scripts never touched reads as 0, the same as "0".
      positions[key] = { qty: h.qty ?? '0', cost: h.cost ?? '0', realized: h.realized ?? '0', ver: h.ver ?? '0', ob: h.ob ?? '0', os: h.os ?? '0' };
    }
    const open: Record<string, string[]> = {};
    for (const key of await scanAll(redis, `{bk:${sym}}:a:*:open`)) {
      open[key] = (await redis.zrange(key, '0', '-1')).map((m) => m.slice(14)); // drop the ctime part
    }
    const clientIds: Record<string, unknown> = {};
    for (const key of await scanAll(redis, `{bk:${sym}}:c:*`)) {
      const h = await redis.hgetall(key);
      // The placement record "ctime|ver|status|reason|filled|notional|fills" without its time.
      clientIds[key] = { fp: h.fp, oid: h.oid, snap: (h.snap ?? '').split('|').slice(1) };
    }
    snap[sym] = { orders, levels, positions, open, clientIds, state: await redis.hgetall(bookStateKey(sym)) };
  }
  return snap;
}
