import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Cluster } from 'ioredis';
import { ApiError } from '../../src/domain/errors.js';
import { instrumentKey, clientOrderReservationKey } from '../../src/domain/matching/keys.js';
import {
  CancelOrderRequestSchema, CancelOrderResponseSchema, ListOrdersRequestSchema, ListOrdersResponseSchema,
  PlaceOrderRequestSchema, PlaceOrderResponseSchema,
} from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderStatus, OrderType, Side } from '../../src/gen/tierbook/v1/types_pb.js';
import { call, ok, workerContext } from './harness.js';
import { commandsArb, resetRedis, runAndCompare } from './property-driver.js';
import { startTestCluster, type TestCluster } from '../support/redis-cluster.js';

let cluster: TestCluster;
let client: Cluster;
before(async () => {
  cluster = await startTestCluster();
  client = cluster.client();
});
after(async () => { await cluster.stop(); });

const RUNS = Number(process.env.TIERBOOK_CLUSTER_PROPERTY_RUNS ?? 300);

test('the books and the account reservations really are spread over the nodes', async () => {
  await client.ping(); // the slot table is loaded once connected
  const keys = [instrumentKey('AAA'), instrumentKey('BBB'), instrumentKey('CCC'), clientOrderReservationKey('a1', 'k1')];
  const owners = new Set<string | undefined>();
  for (const key of keys) {
    const slot = Number(await client.cluster('KEYSLOT', key));
    owners.add(client.slots[slot]?.[0]);
  }
  assert.ok(owners.size >= 2, `keys should land on several nodes, got ${[...owners].join(',')}`);
});

test('random place/cancel/amend sequences match the reference model (3-node Redis Cluster)', { timeout: 300_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(commandsArb(60), async (commands) => {
      await resetRedis(client, () => cluster.flushAll(client));
      await runAndCompare(client, commands);
    }),
    { numRuns: RUNS },
  );
});

test('handlers on a cluster: place, idempotent retry, cancel by client id, list across books', async () => {
  await cluster.flushAll(client);
  const ctx = workerContext(cluster.client());
  const place = (o: { symbol: string; side: Side; priceTicks: bigint; quantityLots: bigint; clientOrderId?: string }, acct: string) =>
    call(ctx, 'PlaceOrder', PlaceOrderRequestSchema, { type: OrderType.LIMIT, ...o }, PlaceOrderResponseSchema, acct);
  ok(await place({ symbol: 'AAA', side: Side.SELL, priceTicks: 1000n, quantityLots: 5n }, 'bob'));
  const a = ok(await place({ symbol: 'AAA', side: Side.BUY, priceTicks: 1000n, quantityLots: 8n, clientOrderId: 'x' }, 'alice'));
  assert.equal(a.order!.status, OrderStatus.PARTIALLY_FILLED);
  assert.deepEqual(ok(await place({ symbol: 'AAA', side: Side.BUY, priceTicks: 1000n, quantityLots: 8n, clientOrderId: 'x' }, 'alice')), a);
  const dup = await place({ symbol: 'CCC', side: Side.BUY, priceTicks: 100n, quantityLots: 1n, clientOrderId: 'x' }, 'alice');
  assert.ok(dup instanceof ApiError && dup.reason === 'DUPLICATE_CLIENT_ORDER_ID');
  ok(await place({ symbol: 'CCC', side: Side.BUY, priceTicks: 100n, quantityLots: 1n }, 'alice'));
  const c = ok(await call(ctx, 'CancelOrder', CancelOrderRequestSchema, { clientOrderId: 'x' }, CancelOrderResponseSchema, 'alice'));
  assert.equal(c.order!.status, OrderStatus.CANCELED);
  const l = ok(await call(ctx, 'ListOrders', ListOrdersRequestSchema, { pageSize: 1 }, ListOrdersResponseSchema, 'alice'));
  assert.equal(l.orders[0]!.symbol, 'CCC');
  const l2 = ok(await call(ctx, 'ListOrders', ListOrdersRequestSchema, { pageSize: 1, pageToken: l.nextPageToken }, ListOrdersResponseSchema, 'alice'));
  assert.equal(l2.orders[0]!.orderId, a.order!.orderId);
});
