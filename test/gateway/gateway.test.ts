import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { HealthCheckRequestSchema, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus, Health } from '../../src/gen/grpc/health/v1/health_pb.js';
import {
  GetOrderRequestSchema,
  GetOrderResponseSchema,
  OrderService,
  PlaceOrderRequestSchema,
  PlaceOrderResponseSchema,
  PlaceOrdersRequestSchema,
  PlaceOrdersResponseSchema,
} from '../../src/gen/tierbook/v1/order_service_pb.js';
import type { Cluster } from 'ioredis';
import { bookStateKey } from '../../src/domain/matching/keys.js';
import { ON_CLUSTER } from '../support/test-redis.js';
import { OrderStatus, OrderType, Side } from '../../src/gen/tierbook/v1/types_pb.js';
import { startTestStack, type TestAccount, type TestStack } from '../support/stack.js';
import { expectError, TestClient } from '../support/grpc-client.js';
import { metricValue } from '../support/rpc-count.js';

/** The walking skeleton's promises, checked through real nginx in front of a real gateway. */
describe('gateway through nginx', () => {
  let stack: TestStack;
  let elite: TestAccount;
  let client: TestClient;

  before(async () => {
    stack = await startTestStack();
    elite = await stack.createAccount('ELITE');
    client = new TestClient(stack.target, elite.apiKey);
  });
  after(async () => {
    client?.close();
    await stack?.stop();
  });

  const health = (c: TestClient, service = '') =>
    c.unary(Health, 'Check', HealthCheckRequestSchema, HealthCheckResponseSchema, { service });

  test('PlaceOrders over three books answers each order index for index (on a cluster: books on different masters)', async () => {
    const orders = [
      { symbol: 'AAPL', side: Side.BUY, type: OrderType.LIMIT, priceTicks: 1_800_000n, quantityLots: 3n, clientOrderId: 'multi-aapl' },
      { symbol: 'MSFT', side: Side.SELL, type: OrderType.LIMIT, priceTicks: 4_400_000n, quantityLots: 2n, clientOrderId: 'multi-msft' },
      { symbol: 'NOPE', side: Side.BUY, type: OrderType.LIMIT, priceTicks: 1n, quantityLots: 1n, clientOrderId: 'multi-nope' },
      { symbol: 'BTC-USD', side: Side.BUY, type: OrderType.LIMIT, priceTicks: 640_000_000n, quantityLots: 10n, clientOrderId: 'multi-btc' },
    ];
    if (ON_CLUSTER) {
      const cluster = stack.redis as unknown as Cluster;
      const owners = new Set<string>();
      for (const o of [orders[0]!, orders[1]!, orders[3]!]) {
        const slot = Number(await cluster.cluster('KEYSLOT', bookStateKey(o.symbol)));
        owners.add(String(cluster.slots[slot]?.[0]));
      }
      assert.ok(owners.size >= 2, `the three books live on ${owners.size} master(s): ${[...owners].join(', ')}`);
    }
    const res = await client.unary(OrderService, 'PlaceOrders', PlaceOrdersRequestSchema, PlaceOrdersResponseSchema, { orders });
    assert.equal(res.results.length, 4);
    const got = res.results.map((r) => (r.result.case === 'placed' ? `${r.result.value.order!.symbol}:${r.result.value.order!.clientOrderId}:${OrderStatus[r.result.value.order!.status]}` : `refused:${r.result.value?.reason}`));
    assert.deepEqual(got, ['AAPL:multi-aapl:NEW', 'MSFT:multi-msft:NEW', 'refused:UNKNOWN_SYMBOL', 'BTC-USD:multi-btc:NEW']);
    for (const r of res.results) {
      if (r.result.case !== 'placed') continue;
      const back = await client.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, { orderId: r.result.value.order!.orderId });
      assert.equal(back.order!.quantityLots, r.result.value.order!.quantityLots, 'each order is in its own book');
    }
  });

  test('health says SERVING for the server and for each API service', async () => {
    for (const svc of ['', 'tierbook.v1.OrderService', 'tierbook.v1.AnalyticsService']) {
      const res = await health(client, svc);
      assert.equal(res.status, HealthCheckResponse_ServingStatus.SERVING, svc);
    }
  });

  test('a call without an API key is UNAUTHENTICATED (MISSING_CREDENTIALS)', async () => {
    const anon = new TestClient(stack.target);
    const err = await expectError(anon.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, { orderId: 'x' }));
    anon.close();
    assert.equal(err.code, status.UNAUTHENTICATED);
    assert.equal(err.reason, 'MISSING_CREDENTIALS');
    assert.match(err.message, /authorization/);
  });

  test('an unknown API key is UNAUTHENTICATED (INVALID_API_KEY)', async () => {
    const bad = new TestClient(stack.target, 'tb_not-a-real-key');
    const err = await expectError(bad.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, { orderId: 'x' }));
    bad.close();
    assert.equal(err.code, status.UNAUTHENTICATED);
    assert.equal(err.reason, 'INVALID_API_KEY');
  });

  test('a key still works after Redis lost it: Postgres is the truth and refills Redis', async () => {
    const acct = await stack.createAccount('PRO', 'lost-key');
    const keys = await stack.keys('auth:*');
    assert.ok(keys.length >= 2);
    await stack.del(keys);
    const c = new TestClient(stack.target, acct.apiKey);
    const res = await health(c);
    assert.equal(res.status, HealthCheckResponse_ServingStatus.SERVING);
    // A method that needs the principal gets past authentication to the worker, which
    // answers precisely: there is no such order.
    const err = await expectError(c.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, { orderId: 'AAPL-nope' }));
    c.close();
    assert.notEqual(err.code, status.UNAUTHENTICATED);
    assert.equal(err.code, status.NOT_FOUND, `${err.code} ${err.reason} ${err.message}`);
    assert.ok((await stack.keys('auth:*')).length >= 1, 'the key was put back into Redis');
  });

  test('malformed protobuf bytes get INVALID_ARGUMENT with a readable message, and the server keeps serving', async () => {
    for (const path of ['/tierbook.v1.OrderService/PlaceOrder', '/tierbook.v1.OrderService/GetOrder']) {
      // A field header promising 100 bytes of a length-delimited field that are not there.
      const err = await expectError(client.rawUnary(path, Uint8Array.from([0x0a, 0x64, 0x41])));
      assert.equal(err.code, status.INVALID_ARGUMENT, path);
      assert.equal(err.reason, 'MALFORMED_REQUEST', path);
      assert.ok(err.message.length > 10, `readable message for ${path}: ${err.message}`);
    }
    const res = await health(client);
    assert.equal(res.status, HealthCheckResponse_ServingStatus.SERVING);
  });

  test('invalid fields get INVALID_ARGUMENT naming the field', async () => {
    const err = await expectError(
      client.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, {
        symbol: 'AAPL',
        side: Side.BUY,
        type: OrderType.LIMIT,
        priceTicks: 1_900_000n,
        quantityLots: 0n,
        clientOrderId: 'zero-qty',
      }),
    );
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.match(err.message, /quantity/);
  });

  test('PlaceOrder then GetOrder travel the whole path (nginx -> gateway -> pool -> worker -> Redis)', async () => {
    const placed = await client.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, {
      symbol: 'AAPL',
      side: Side.BUY,
      type: OrderType.LIMIT,
      priceTicks: 1_900_000n,
      quantityLots: 10n,
      clientOrderId: 'skeleton-1',
    });
    assert.ok(placed.order?.orderId);
    assert.equal(placed.order.status, OrderStatus.NEW);
    assert.equal(placed.order.remainingLots, 10n);
    const got = await client.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, {
      orderId: placed.order.orderId,
    });
    assert.equal(got.order?.orderId, placed.order.orderId);
    assert.equal(got.order?.clientOrderId, 'skeleton-1');
    assert.equal(got.order?.priceTicks, 1_900_000n);
  });

  test('the premium and shared tiers are both served (each by its own pool)', async () => {
    const lite = await stack.createAccount('LITE');
    const c = new TestClient(stack.target, lite.apiKey);
    // Calls each pool's threads ran, from the threads' own metrics.
    const ran = (pool: string) => metricValue(stack.gateway, 'tierbook_worker_task_seconds_count', { pool, method: 'PlaceOrder', result: 'ok' });
    const before = { premium: await ran('premium'), shared: await ran('shared') };
    const placed = await c.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, {
      symbol: 'AAPL',
      side: Side.SELL,
      type: OrderType.LIMIT,
      priceTicks: 2_000_000n,
      quantityLots: 3n,
      clientOrderId: 'lite-1',
    });
    c.close();
    assert.equal(placed.order?.status, OrderStatus.NEW);
    assert.deepEqual({ premium: await ran('premium') - before.premium, shared: await ran('shared') - before.shared }, { premium: 0, shared: 1 }, 'LITE ran on the shared pool');
    const mid = { premium: await ran('premium'), shared: await ran('shared') };
    const premiumPlaced = await client.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, {
      symbol: 'AAPL',
      side: Side.SELL,
      type: OrderType.LIMIT,
      priceTicks: 2_000_000n,
      quantityLots: 2n,
      clientOrderId: 'elite-pool-1',
    });
    assert.equal(premiumPlaced.order?.status, OrderStatus.NEW);
    assert.deepEqual({ premium: await ran('premium') - mid.premium, shared: await ran('shared') - mid.shared }, { premium: 1, shared: 0 }, 'ELITE ran on the premium pool');
  });
});
