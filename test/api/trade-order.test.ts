/**
 * Issue 13, bug 2: ListTrades is newest first within one millisecond too. One sweep makes
 * fills F99, F100 and F101 with the same fill_time; as text F100 < F101 < F99, so a text
 * order returned F99, F101, F100. The order is the numeric fill sequence, and paging
 * through it with small pages gives exactly the same sequence. Through nginx, with the sync.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AnalyticsService, ListTradesRequestSchema, ListTradesResponseSchema,
} from '../../src/gen/tierbook/v1/analytics_service_pb.js';
import {
  OrderService, PlaceOrderRequestSchema, PlaceOrdersRequestSchema, PlaceOrdersResponseSchema,
} from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderType, Side, TimeInForce } from '../../src/gen/tierbook/v1/types_pb.js';
import { create } from '@bufbuild/protobuf';
import type { TestClient } from '../support/grpc-client.js';
import { eventually, place, startApiStack, type ApiStack } from './support.js';

let api: ApiStack;
let maker: TestClient;
let taker: TestClient;

const asks = (n: number) => Array.from({ length: n }, () => create(PlaceOrderRequestSchema, {
  symbol: 'AAA', side: Side.SELL, type: OrderType.LIMIT, timeInForce: TimeInForce.GTC, priceTicks: 1000n, quantityLots: 1n,
}));

/** One IOC buy sweeping `n` one-lot asks: n fills in one script, so in one millisecond. */
async function sweep(n: number): Promise<bigint> {
  const placed = await maker.unary(OrderService, 'PlaceOrders', PlaceOrdersRequestSchema, PlaceOrdersResponseSchema, { orders: asks(n) });
  assert.ok(placed.results.every((r) => r.result.case === 'placed'));
  const r = await place(taker, { side: Side.BUY, priceTicks: 1000n, quantityLots: BigInt(n), timeInForce: TimeInForce.IOC });
  assert.equal(r.fills.length, n);
  assert.equal(new Set(r.fills.map((f) => f.fillTime!.seconds * 1000n + BigInt(f.fillTime!.nanos / 1e6))).size, 1, 'one millisecond');
  return BigInt(r.fills.length);
}

const listTrades = (pageSize: number, pageToken = '') =>
  taker.unary(AnalyticsService, 'ListTrades', ListTradesRequestSchema, ListTradesResponseSchema, { symbol: 'AAA', pageSize, pageToken });

before(async () => {
  api = await startApiStack({ sync: true });
  ({ client: maker } = await api.client('PRO'));
  ({ client: taker } = await api.client('ELITE'));
  await sweep(98); // F1..F98
  await sweep(3); // F99, F100, F101: across a power of ten, in one millisecond
  await eventually('101 fills in Postgres', async () => Number((await api.stack.sql`SELECT count(*)::int AS n FROM fills`)[0]!.n), (n) => n === 101);
});
after(async () => api?.stop());

const newestFirst = Array.from({ length: 101 }, (_, i) => `AAA:F${101 - i}`);

test('one page: newest first by the numeric fill sequence, across F99 / F100 / F101', async () => {
  const page = await listTrades(1000);
  assert.deepEqual(page.fills.map((f) => f.fillId), newestFirst);
  assert.equal(page.nextPageToken, '');
});

test('pages of two give the same sequence, with no fill repeated or skipped', async () => {
  const ids: string[] = [];
  let token = '';
  do {
    const page = await listTrades(2, token);
    assert.ok(page.fills.length <= 2);
    ids.push(...page.fills.map((f) => f.fillId));
    token = page.nextPageToken;
  } while (token !== '');
  assert.deepEqual(ids, newestFirst);
});

test('a page boundary inside the millisecond: F101, F100 | F99, F98', async () => {
  const first = await listTrades(2);
  assert.deepEqual(first.fills.map((f) => f.fillId), ['AAA:F101', 'AAA:F100']);
  const second = await listTrades(2, first.nextPageToken);
  assert.deepEqual(second.fills.map((f) => f.fillId), ['AAA:F99', 'AAA:F98']);
});
