import type { Redis } from 'ioredis';
import {
  accountRetiredIdsKey, clientOrderKey, clientOrderReservationKey, finishedOrdersKey, instrumentKey, orderKey,
} from '../domain/matching/keys.js';
import { bookCaller } from '../shared/book-library.js';
import { luaSource } from '../shared/lua-source.js';

/** Orders removed per script call: one call stays short (Redis runs scripts one at a time). */
const BATCH = 200;
/** Batches per pass and book, so one pass never monopolises the housekeeping loop. */
const MAX_BATCHES = 50;

export interface SweepOptions {
  /** A finished order stays at least this long after its last change. */
  retentionMs: number;
  /** Client order ids are remembered this long after placement. */
  idempotencyWindowMs: number;
}

type SweepRedis = Redis & {
  tierbook_expire_coid(reservation: string, marker: string, fp: string, at: string): Promise<number>;
};

function withScripts(redis: Redis): SweepRedis {
  const r = redis as SweepRedis;
  if (typeof r.tierbook_expire_coid !== 'function') {
    redis.defineCommand('tierbook_expire_coid', { lua: luaSource('expire-client-id'), numberOfKeys: 2 });
  }
  return r;
}

/**
 * Removes from Redis the finished orders of one book whose last event is older than both the
 * retention window and `committedBelowMs` (every event of the book's stream before that time
 * is committed in Postgres: the sync group's oldest pending entry, or its last delivered one;
 * Redis' clock when the group had committed the whole stream). A stalled sync therefore holds
 * every finished order in Redis, however long it waits. Times are Redis' clock (the one that
 * stamps the events), not this host's.
 *
 * The client order id reservations live in the account's slot, not the book's, so they get
 * their end time first (a crash in between only leaves orders for the next pass); then one
 * book function per batch removes the orders atomically (sweep.lua, in the book library of
 * src/shared/book-library.ts). Returns how many left.
 */
export async function sweepFinishedOrders(redis: Redis, symbol: string, committedBelowMs: number, opts: SweepOptions): Promise<number> {
  const r = withScripts(redis);
  const book = bookCaller(redis);
  const [sec, usec] = await redis.time();
  const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
  const bound = Math.min(committedBelowMs, now - opts.retentionMs);
  if (bound <= 0) return 0;
  let removed = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const ids = await redis.zrangebyscore(finishedOrdersKey(symbol), '-inf', `(${bound}`, 'LIMIT', 0, BATCH);
    if (ids.length === 0) break;
    await endReservations(r, symbol, ids, opts.idempotencyWindowMs, now);
    removed += await book('sweep', instrumentKey(symbol), String(bound), String(opts.idempotencyWindowMs), String(BATCH)) as number;
    if (ids.length < BATCH) break;
  }
  return removed;
}

/** Gives each order's client order id reservation its end: the window after placement, or now. */
async function endReservations(r: SweepRedis, symbol: string, ids: string[], windowMs: number, now: number): Promise<void> {
  const heads = await r.pipeline(ids.map((id) => ['hmget', orderKey(symbol, id), 'acct', 'coid', 'ctime'])).exec();
  const named: { acct: string; coid: string; ctime: number }[] = [];
  for (const [err, v] of heads ?? []) {
    const [acct, coid, ctime] = (err ? [] : v) as (string | null)[];
    if (acct && coid) named.push({ acct, coid, ctime: Number(ctime) });
  }
  if (named.length === 0) return;
  const fps = await r.pipeline(named.map((n) => ['hget', clientOrderKey(symbol, n.acct, n.coid), 'fp'])).exec();
  await Promise.all(named.map((n, i) => {
    const fp = fps?.[i]?.[1] as string | null;
    if (!fp) return undefined;
    return r.tierbook_expire_coid(clientOrderReservationKey(n.acct, n.coid), accountRetiredIdsKey(n.acct), fp,
      String(Math.max(n.ctime + windowMs, now)));
  }));
}
