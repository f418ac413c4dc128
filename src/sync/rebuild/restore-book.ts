import type { ChainableCommander, Redis } from 'ioredis';
import type { Sql } from 'postgres';
import type { OrderState } from '../../domain/events.js';
import { fingerprint } from '../../domain/matching/order-input.js';
import {
  accountBookKey, bookStateKey, clientOrderKey, finishedOrdersKey, listMember, clientOrderReservationKey, levelQtyKey, levelsKey, orderKey, queueKey,
} from '../../domain/matching/keys.js';
import { bookCounters, forEachOrder, positionsOf } from './book-rows.js';
import { placementSnapshot } from './placement.js';
import { crossSlotPipeline } from '../../shared/redis.js';

/** What one book's restore wrote. */
export interface BookRestore {
  symbol: string;
  orders: number;
  open: number;
  positions: number;
  clientIds: number;
}

const CHUNK = 2_000;

const working = (o: OrderState) => o.status === 'NEW' || o.status === 'PARTIALLY_FILLED';

/**
 * Writes one book back into Redis in the matching engine's layout (src/domain/matching/keys.ts,
 * src/workers/orders/lua/common.lua): every order hash and account index, the working orders
 * into their price levels in time priority (queue score = seq), positions with the lots held
 * by working orders (ob/os), client order ids with their first response, and the book's id
 * counters, so new orders continue the sequences instead of reusing ids. Finished orders are
 * queued for the retention sweeper (`fin`), which removes them again once the sync runs.
 */
export async function restoreBook(sql: Sql, redis: Redis, symbol: string, onRows: (n: number) => void): Promise<BookRestore> {
  const res: BookRestore = { symbol, orders: 0, open: 0, positions: 0, clientIds: 0 };
  const openLots = new Map<string, { ob: bigint; os: bigint }>();
  let maxCounter = 0n;
  let maxSeq = 0n;
  await forEachOrder(sql, symbol, CHUNK, async (rows) => {
    const pipe = crossSlotPipeline(redis);
    for (const { order: o, placed, takerFills } of rows) {
      const member = listMember(o);
      pipe.hset(orderKey(symbol, o.id), { ...o, post: o.post ? '1' : '0', lx: member });
      pipe.zadd(accountBookKey(symbol, o.acct, 'all'), 0, member);
      if (working(o)) {
        const side = o.side === 'BUY' ? 'B' : 'S';
        pipe.zadd(queueKey(symbol, side, o.px), o.seq, o.id);
        pipe.zadd(levelsKey(symbol, side), o.px, o.px);
        pipe.zadd(accountBookKey(symbol, o.acct, 'open'), 0, member);
        const lots = openLots.get(o.acct) ?? { ob: 0n, os: 0n };
        const rest = BigInt(o.qty) - BigInt(o.filled);
        pipe.hincrby(levelQtyKey(symbol, side), o.px, rest.toString());
        if (o.side === 'BUY') lots.ob += rest;
        else lots.os += rest;
        openLots.set(o.acct, lots);
        res.open++;
      } else {
        // Finished: queued for the retention sweeper like any other (its events are in Postgres).
        pipe.zadd(finishedOrdersKey(symbol), o.utime, o.id);
      }
      if (o.coid !== '') restoreClientId(pipe, o, placed, takerFills, res);
      const counter = BigInt(o.id.slice(o.id.lastIndexOf(':') + 1).replace(/\D/g, '') || '0');
      if (counter > maxCounter) maxCounter = counter;
      if (BigInt(o.seq) > maxSeq) maxSeq = BigInt(o.seq);
    }
    await exec(pipe);
    res.orders += rows.length;
    onRows(rows.length);
  });

  const pipe = crossSlotPipeline(redis);
  for (const p of await positionsOf(sql, symbol)) {
    const lots = openLots.get(p.account_id);
    openLots.delete(p.account_id);
    pipe.hset(accountBookKey(symbol, p.account_id, 'pos'), {
      qty: p.quantity, cost: p.cost_basis, realized: p.realized_pnl, ver: p.ver,
      ...(lots ? { ob: String(lots.ob), os: String(lots.os) } : {}),
    });
    res.positions++;
  }
  // Accounts with working orders but no trade yet in this book.
  for (const [acct, lots] of openLots) pipe.hset(accountBookKey(symbol, acct, 'pos'), { ob: String(lots.ob), os: String(lots.os) });
  const counters = await bookCounters(sql, symbol);
  pipe.hset(bookStateKey(symbol), { oid: String(maxCounter), seq: String(maxSeq), fill: counters.fill, ...(counters.last ? { last: counters.last } : {}) });
  await exec(pipe);
  onRows(res.positions);
  return res;
}

/** The book's record of a client order id and the account-wide reservation of it. */
function restoreClientId(pipe: ChainableCommander, o: OrderState, placed: { px: string; qty: string; ver: string }, takerFills: Parameters<typeof placementSnapshot>[2], res: BookRestore): void {
  const fp = fingerprint({
    symbol: o.sym, side: o.side, type: o.type, tif: o.tif, price: BigInt(placed.px), qty: BigInt(placed.qty),
    coid: o.coid, postOnly: o.post, stp: o.stp,
  });
  pipe.hset(clientOrderKey(o.sym, o.acct, o.coid), { fp, oid: o.id, snap: placementSnapshot(o, placed, takerFills) });
  pipe.set(clientOrderReservationKey(o.acct, o.coid), fp);
  res.clientIds++;
}

async function exec(pipe: ChainableCommander): Promise<void> {
  const results = await pipe.exec();
  for (const [err] of results ?? []) if (err) throw err;
}
