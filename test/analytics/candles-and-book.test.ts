/**
 * GetCandles and GetOrderBook against real Redis and Postgres: hand-computed candles with a
 * gap, the newest candle growing from fills the sync has not committed (through a warm
 * cache), no double counting once they are committed, recompute after the stream is
 * trimmed, bad input; and L2 depth of a one-sided book built by the real matching scripts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { create, toBinary, fromBinary } from '@bufbuild/protobuf';
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import { eventStreamKey } from '../../src/domain/events.js';
import { CandleInterval, GetCandlesRequestSchema, GetCandlesResponseSchema, GetOrderBookRequestSchema, GetOrderBookResponseSchema, type GetCandlesResponse } from '../../src/gen/tierbook/v1/analytics_service_pb.js';
import { PlaceOrderRequestSchema, PlaceOrderResponseSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderType, Side } from '../../src/gen/tierbook/v1/types_pb.js';
import { orderHandlers } from '../../src/workers/orders/index.js';
import { CACHE_STATS_KEY } from '../../src/workers/analytics/index.js';
import { analyticsContext } from '../../src/workers/analytics/analytics-context.js';
import { commitFills, err, markCommitted, ok, startHarness, streamFills, type Harness } from './support/harness.js';

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
let h: Harness;

before(async () => {
  h = await startHarness();
  await markCommitted(h, 'CCC');
  await commitFills(h, 'CCC', [
    { seq: 1, ms: T0 + 5_000, px: 100, qty: 1 },
    { seq: 2, ms: T0 + 30_000, px: 105, qty: 2 },
    { seq: 3, ms: T0 + 50_000, px: 98, qty: 1 },
    // minute 1: no trades (a gap)
    { seq: 4, ms: T0 + 2 * MIN + 1_000, px: 110, qty: 5 },
    { seq: 5, ms: T0 + 4 * MIN - 1, px: 90, qty: 1 },
    { seq: 6, ms: T0 + 4 * MIN - 1, px: 95, qty: 1 }, // same millisecond: the later fill closes
  ]);
});
after(async () => { await h?.stop(); });

const candles = async (interval: CandleInterval, start?: number, end?: number) => ok(await h.call('GetCandles', GetCandlesRequestSchema, {
  symbol: 'CCC', interval,
  startTime: start === undefined ? undefined : timestampFromMs(start),
  endTime: end === undefined ? undefined : timestampFromMs(end),
}, GetCandlesResponseSchema));

/** [minute offset from T0, o, h, l, c, v, n] */
function rows(res: GetCandlesResponse): number[][] {
  return res.candles.map((c) => [(timestampMs(c.startTime!) - T0) / MIN, ...[c.openTicks, c.highTicks, c.lowTicks, c.closeTicks, c.volumeLots, c.tradeCount].map(Number)]);
}

describe('GetCandles', () => {
  test('1m candles over a range with a gap, oldest first; complete through the range end', async () => {
    const res = await candles(CandleInterval.CANDLE_INTERVAL_1M, T0, T0 + 10 * MIN);
    assert.deepEqual(rows(res), [[0, 100, 105, 98, 98, 4, 3], [2, 110, 110, 110, 110, 5, 1], [3, 90, 95, 90, 95, 2, 2]]);
    assert.equal(timestampMs(res.completeThroughTime!), T0 + 10 * MIN);
  });

  test('5m, 1h and 1d fold the same fills into one candle', async () => {
    for (const iv of [CandleInterval.CANDLE_INTERVAL_5M, CandleInterval.CANDLE_INTERVAL_1H, CandleInterval.CANDLE_INTERVAL_1D]) {
      assert.deepEqual(rows(await candles(iv, T0, T0 + 2 * 86_400_000)), [[0, 100, 110, 90, 95, 11, 6]], CandleInterval[iv]);
    }
  });

  test('an unaligned start is rounded down to its interval', async () => {
    assert.deepEqual(rows(await candles(CandleInterval.CANDLE_INTERVAL_1M, T0 + 2 * MIN + 30_000, T0 + 3 * MIN)), [[2, 110, 110, 110, 110, 5, 1]]);
  });

  test('fills not yet in Postgres extend the newest candle, even with a warm cache, and count once after commit', async () => {
    await candles(CandleInterval.CANDLE_INTERVAL_5M, T0, T0 + 10 * MIN); // warm
    await streamFills(h, 'CCC', [{ seq: 7, ms: T0 + 4 * MIN + 10_000, px: 120, qty: 3 }]);
    const want = [[0, 100, 120, 90, 120, 14, 7]];
    assert.deepEqual(rows(await candles(CandleInterval.CANDLE_INTERVAL_5M, T0, T0 + 10 * MIN)), want);
    // The sync commits fill 7: Postgres has it and the group moves past it.
    await h.sql`INSERT INTO fills SELECT 'CCC:F7', 'CCC', 120, 3, tierbook_ms(${T0 + 4 * MIN + 10_000}), 'o', '', 'mk', 'SELL', 't', '', 'tk', 'BUY'`;
    await markCommitted(h, 'CCC');
    assert.deepEqual(rows(await candles(CandleInterval.CANDLE_INTERVAL_5M, T0, T0 + 10 * MIN)), want, 'warm cache: counted once');
    assert.deepEqual(rows(await candles(CandleInterval.CANDLE_INTERVAL_1H, T0, T0 + 10 * MIN)), want, 'cold key: counted once');
    // The stream is trimmed past the cached base: the reader notices and recomputes.
    await h.redis.xtrim(eventStreamKey('CCC'), 'MAXLEN', 0);
    assert.deepEqual(rows(await candles(CandleInterval.CANDLE_INTERVAL_5M, T0, T0 + 10 * MIN)), want, 'after trim');
  });

  test('a cached base whose stream tail grew long is rebased, with the same answer', async () => {
    const a = await analyticsContext(h.ctx);
    const stale = () => a.stats.totals.get('PRO:GetCandles:stale') ?? 0;
    const want = rows(await candles(CandleInterval.CANDLE_INTERVAL_5M, T0, T0 + 10 * MIN));
    const pipe = h.redis.pipeline();
    for (let i = 0; i < 1_000; i++) pipe.xadd(eventStreamKey('CCC'), '*', 'k', 'order', 'd', '{}');
    await pipe.exec();
    const before = stale();
    assert.deepEqual(rows(await candles(CandleInterval.CANDLE_INTERVAL_5M, T0, T0 + 10 * MIN)), want);
    assert.equal(stale(), before, 'no rebase while the sync has not moved: it would not help');
    await markCommitted(h, 'CCC'); // the sync catches up
    assert.deepEqual(rows(await candles(CandleInterval.CANDLE_INTERVAL_5M, T0, T0 + 10 * MIN)), want);
    assert.equal(stale(), before + 1, 'rebased once');
    assert.deepEqual(rows(await candles(CandleInterval.CANDLE_INTERVAL_5M, T0, T0 + 10 * MIN)), want);
    assert.equal(stale(), before + 1, 'the new base serves the next call');
  });

  test('an open range ends now: complete_through_time is the read time', async () => {
    const before = Date.now();
    const res = await candles(CandleInterval.CANDLE_INTERVAL_1D, T0);
    assert.deepEqual(rows(res), [[0, 100, 120, 90, 120, 14, 7]]);
    const through = timestampMs(res.completeThroughTime!);
    assert.ok(through >= before - 5 && through <= Date.now() + 5, `complete through ${through}`);
  });

  test('the default range is the last 500 candles, including a fill made a moment ago', async () => {
    const now = Date.now();
    await streamFills(h, 'CCC', [{ seq: 8, ms: now, px: 101, qty: 4 }]);
    const res = await candles(CandleInterval.CANDLE_INTERVAL_1M);
    assert.equal(res.candles.length, 1);
    assert.equal(timestampMs(res.candles[0]!.startTime!), now - (now % MIN));
    assert.equal(res.candles[0]!.volumeLots, 4n);
  });

  test('cache hits and misses are counted in Redis', async () => {
    await new Promise((r) => setTimeout(r, 1_100)); // the per-thread flush runs every second
    const stats = await h.redis.hgetall(CACHE_STATS_KEY);
    assert.ok(Number(stats['PRO:GetCandles:hit']) >= 3, JSON.stringify(stats));
    assert.ok(Number(stats['PRO:GetCandles:miss']) >= 3, JSON.stringify(stats));
    assert.ok(Number(stats['PRO:GetCandles:stale']) >= 1, JSON.stringify(stats));
  });

  test('bad input is INVALID_ARGUMENT naming the field', async () => {
    const bad = async (req: Parameters<typeof create<typeof GetCandlesRequestSchema>>[1], reason: string, field: string) => {
      const e = err(await h.call('GetCandles', GetCandlesRequestSchema, req!, GetCandlesResponseSchema));
      assert.equal(e.reason, reason);
      assert.equal(e.code, 3);
      assert.equal(e.metadata.field, field);
    };
    await bad({ symbol: 'NOPE', interval: CandleInterval.CANDLE_INTERVAL_1M }, 'UNKNOWN_SYMBOL', 'symbol');
    await bad({ symbol: 'CCC' }, 'INVALID_FIELD', 'interval');
    await bad({ symbol: 'CCC', interval: CandleInterval.CANDLE_INTERVAL_1M, startTime: timestampFromMs(T0 + MIN), endTime: timestampFromMs(T0) }, 'INVALID_FIELD', 'end_time');
    await bad({ symbol: 'CCC', interval: CandleInterval.CANDLE_INTERVAL_1M, startTime: timestampFromMs(T0) }, 'INVALID_FIELD', 'start_time');
  });
});

describe('GetOrderBook', () => {
  const place = async (acct: string, side: Side, px: bigint, qty: bigint) => {
    const path = '/tierbook.v1.OrderService/PlaceOrder';
    const bytes = toBinary(PlaceOrderRequestSchema, create(PlaceOrderRequestSchema, { symbol: 'AAA', side, type: OrderType.LIMIT, priceTicks: px, quantityLots: qty }));
    return fromBinary(PlaceOrderResponseSchema, await orderHandlers[path]!(h.ctx, { method: path, accountId: acct, tier: 'PRO', payload: bytes, deadline: 0, requestId: 't' }));
  };
  const book = async (depth = 0) => ok(await h.call('GetOrderBook', GetOrderBookRequestSchema, { symbol: 'AAA', depth }, GetOrderBookResponseSchema));
  const levels = (ls: { priceTicks: bigint; quantityLots: bigint; orderCount: bigint }[]) => ls.map((l) => [l.priceTicks, l.quantityLots, l.orderCount].map(Number));

  test('an empty book has no levels and no last price', async () => {
    const b = await book();
    assert.deepEqual([b.bids.length, b.asks.length, b.lastPriceTicks], [0, 0, 0n]);
  });

  test('a one-sided book: bids best first, aggregated per level, depth-limited', async () => {
    await place('a', Side.BUY, 1000n, 10n);
    await place('b', Side.BUY, 1000n, 5n);
    await place('a', Side.BUY, 990n, 7n);
    await place('c', Side.BUY, 1005n, 1n);
    const b = await book();
    assert.deepEqual(levels(b.bids), [[1005, 1, 1], [1000, 15, 2], [990, 7, 1]]);
    assert.deepEqual(b.asks, []);
    assert.deepEqual(levels((await book(2)).bids), [[1005, 1, 1], [1000, 15, 2]]);
  });

  test('partial fills leave the remaining quantity; the last trade price is reported', async () => {
    await place('d', Side.SELL, 1000n, 13n); // takes 1 @ 1005, 10 @ 1000 from a, 2 from b
    await place('d', Side.SELL, 1100n, 4n);
    const b = await book();
    assert.deepEqual(levels(b.bids), [[1000, 3, 1], [990, 7, 1]]);
    assert.deepEqual(levels(b.asks), [[1100, 4, 1]]);
    assert.equal(b.lastPriceTicks, 1000n);
  });

  test('bad depth and unknown symbol are INVALID_ARGUMENT', async () => {
    assert.equal(err(await h.call('GetOrderBook', GetOrderBookRequestSchema, { symbol: 'AAA', depth: 101 }, GetOrderBookResponseSchema)).metadata.field, 'depth');
    assert.equal(err(await h.call('GetOrderBook', GetOrderBookRequestSchema, { symbol: 'ZZZ' }, GetOrderBookResponseSchema)).reason, 'UNKNOWN_SYMBOL');
  });
});
