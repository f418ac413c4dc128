/**
 * Issue 13, item 8: analytics answers say how far the history reaches, and a caller can ask
 * for at least its own last order's state. The sync is slowed (it lingers 1500 ms for more
 * events) and the read-after wait is 100 ms, so a read right after an order is first refused
 * with the retryable UNAVAILABLE / SYNC_BEHIND and then, retried as a client would, answers
 * with the order's fill in it. Through nginx.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { setTimeout as sleep } from 'node:timers/promises';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import {
  AnalyticsService, GetAccountStatsRequestSchema, GetAccountStatsResponseSchema, GetPortfolioRequestSchema,
  GetPortfolioResponseSchema, ListTradesRequestSchema, ListTradesResponseSchema, StatsWindow,
} from '../../src/gen/tierbook/v1/analytics_service_pb.js';
import { Side, TimeInForce } from '../../src/gen/tierbook/v1/types_pb.js';
import { callError, expectError, type TestClient } from '../support/grpc-client.js';
import { eventually, place, startApiStack, type ApiStack } from './support.js';

let api: ApiStack;
let alice: TestClient;
let bob: TestClient;

before(async () => {
  api = await startApiStack({ sync: true, env: { TIERBOOK_SYNC_LINGER_MS: '1500', TIERBOOK_READ_AFTER_WAIT_MS: '100' } });
  ({ client: alice } = await api.client('PRO'));
  ({ client: bob } = await api.client('ELITE'));
});
after(async () => api?.stop());

const portfolio = (afterOrder?: { orderId: string; version: bigint }) =>
  alice.unary(AnalyticsService, 'GetPortfolio', GetPortfolioRequestSchema, GetPortfolioResponseSchema, { afterOrder });

/** Retries UNAVAILABLE, as the API says a client may; returns the answer and the refusals seen. */
async function retrying<T>(call: () => Promise<T>): Promise<{ value: T; refused: string[] }> {
  const refused: string[] = [];
  for (let i = 0; i < 100; i++) {
    try {
      return { value: await call(), refused };
    } catch (err) {
      const e = callError(err);
      if (e.code !== status.UNAVAILABLE) throw err;
      refused.push(e.reason ?? '');
      await sleep(20);
    }
  }
  throw new Error('still UNAVAILABLE after 100 tries');
}

test('after_order: SYNC_BEHIND while the sync lags, then an answer that includes the order', async () => {
  const ask = await place(bob, { side: Side.SELL, priceTicks: 1000n, quantityLots: 7n });
  // Once bob's order is committed, alice's events start a new batch: it lingers 1500 ms.
  await eventually('the ask in Postgres', async () => (await api.stack.sql`SELECT 1 FROM orders WHERE order_id = ${ask.order!.orderId}`).length, (n) => n === 1);
  const r = await place(alice, { priceTicks: 1000n, quantityLots: 7n, timeInForce: TimeInForce.IOC });
  const mine = { orderId: r.order!.orderId, version: r.order!.version };
  const first = await expectError(portfolio(mine));
  assert.deepEqual([first.code, first.reason, first.metadata.order_id, first.metadata.version], [status.UNAVAILABLE, 'SYNC_BEHIND', mine.orderId, String(mine.version)]);
  const { value } = await retrying(() => portfolio(mine));
  assert.deepEqual(value.positions.map((p) => [p.symbol, p.quantityLots]), [['AAA', 7n]]);
  assert.ok(timestampMs(value.consistentThroughTime!) >= timestampMs(r.order!.updateTime!));
  // The other two reads, with the same order named, include its fill.
  const trades = await retrying(() => alice.unary(AnalyticsService, 'ListTrades', ListTradesRequestSchema, ListTradesResponseSchema, { afterOrder: mine }));
  assert.deepEqual(trades.value.fills.map((f) => f.orderId), [mine.orderId]);
  assert.ok(trades.value.consistentThroughTime);
  const stats = await retrying(() => alice.unary(AnalyticsService, 'GetAccountStats', GetAccountStatsRequestSchema, GetAccountStatsResponseSchema,
    { window: StatsWindow.STATS_WINDOW_TODAY, afterOrder: mine }));
  assert.deepEqual([stats.value.fillCount, stats.value.volumeLots], [1n, 7n]);
});

test('a plain read whose reach is past an order includes that order', async () => {
  const ask = await place(bob, { side: Side.SELL, priceTicks: 1000n, quantityLots: 3n });
  await eventually('the ask in Postgres', async () => (await api.stack.sql`SELECT 1 FROM orders WHERE order_id = ${ask.order!.orderId}`).length, (n) => n === 1);
  const r = await place(alice, { priceTicks: 1000n, quantityLots: 3n, timeInForce: TimeInForce.IOC });
  const early = await portfolio();
  const reached = timestampMs(early.consistentThroughTime!) >= timestampMs(r.order!.updateTime!);
  const held = early.positions.find((p) => p.symbol === 'AAA')?.quantityLots;
  // Alice held 7 lots from the test above; with this fill, 10.
  assert.ok(!reached || held === 10n, `reach ${timestampMs(early.consistentThroughTime!)} >= order ${timestampMs(r.order!.updateTime!)} but the position (${held}) does not include it`);
});

test('after_order naming an unknown order, another account\'s, or a version it never had', async () => {
  const r = await place(alice, { priceTicks: 900n, quantityLots: 1n });
  const unknown = await expectError(portfolio({ orderId: 'AAA:999999', version: 1n }));
  assert.deepEqual([unknown.code, unknown.reason, unknown.metadata.field], [status.NOT_FOUND, 'ORDER_NOT_FOUND', 'after_order.order_id']);
  const theirs = await expectError(bob.unary(AnalyticsService, 'GetPortfolio', GetPortfolioRequestSchema, GetPortfolioResponseSchema,
    { afterOrder: { orderId: r.order!.orderId, version: 1n } }));
  assert.equal(theirs.reason, 'ORDER_NOT_FOUND');
  const future = await expectError(portfolio({ orderId: r.order!.orderId, version: 5n }));
  assert.deepEqual([future.code, future.reason, future.metadata.field], [status.INVALID_ARGUMENT, 'INVALID_FIELD', 'after_order.version']);
});
