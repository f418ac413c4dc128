/**
 * Account isolation: an account sees, cancels and amends only its own orders (another
 * account's order id or client order id is NOT_FOUND, never a leak or a change), lists only
 * its own orders and reads only its own portfolio and trades.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestStack, type TestStack } from '../support/stack.js';
import { expectError } from '../support/grpc-client.js';
import {
  AmendOrderRequestSchema, AmendOrderResponseSchema, CancelOrderRequestSchema, CancelOrderResponseSchema,
  ListOrdersRequestSchema, ListOrdersResponseSchema, OrderService,
} from '../../src/gen/tierbook/v1/order_service_pb.js';
import {
  AnalyticsService, GetPortfolioRequestSchema, GetPortfolioResponseSchema, ListTradesRequestSchema, ListTradesResponseSchema,
} from '../../src/gen/tierbook/v1/analytics_service_pb.js';
import { OrderStatus, OrderType, Side, TimeInForce } from '../../src/gen/tierbook/v1/types_pb.js';
import { startSyncThread, type SyncThread } from '../../src/sync/index.js';
import { createLogger } from '../../src/shared/logger.js';
import { StreamExecutionsRequestSchema, StreamExecutionsResponseSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { OrderClient, restingBuy } from './support.js';

describe('account isolation', () => {
  let stack: TestStack;
  let alice: OrderClient;
  let bob: OrderClient;
  let sync: SyncThread;

  before(async () => {
    stack = await startTestStack({ withoutNginx: true });
    // Portfolios and trades are read from Postgres: the write-behind must run.
    sync = await startSyncThread(stack.config, createLogger(stack.config));
    const [a, b] = await Promise.all([stack.createAccount('PRO', 'alice'), stack.createAccount('ELITE', 'bob')]);
    alice = OrderClient.of(stack.gatewayTarget, a.apiKey);
    bob = OrderClient.of(stack.gatewayTarget, b.apiKey);
  });

  after(async () => {
    alice?.close();
    bob?.close();
    await sync?.stop();
    await stack?.stop();
  });

  const cancel = (c: OrderClient, req: { orderId?: string; clientOrderId?: string }) =>
    c.client.unary(OrderService, 'CancelOrder', CancelOrderRequestSchema, CancelOrderResponseSchema, req);
  const amend = (c: OrderClient, orderId: string) =>
    c.client.unary(OrderService, 'AmendOrder', AmendOrderRequestSchema, AmendOrderResponseSchema, { orderId, newQuantityLots: 7n, newPriceTicks: 1_700_000n });
  const list = (c: OrderClient) =>
    c.client.unary(OrderService, 'ListOrders', ListOrdersRequestSchema, ListOrdersResponseSchema, { pageSize: 500 });

  it("gives NOT_FOUND for another account's order, by id and by client order id, and leaves it alone", async () => {
    const placed = await alice.place(restingBuy({ clientOrderId: 'shared-name-1' }));
    const orderId = placed.order!.orderId;
    assert.equal((await expectError(bob.getById(orderId))).code, 5);
    assert.equal((await expectError(bob.getByClientId('shared-name-1'))).code, 5);
    assert.equal((await expectError(cancel(bob, { orderId }))).code, 5);
    assert.equal((await expectError(cancel(bob, { clientOrderId: 'shared-name-1' }))).code, 5);
    assert.equal((await expectError(amend(bob, orderId))).code, 5);
    // Alice's order is untouched by all of that.
    const mine = await alice.getById(orderId);
    assert.equal(mine.order!.status, OrderStatus.NEW);
    assert.equal(mine.order!.quantityLots, placed.order!.quantityLots);
    assert.equal(mine.order!.version, placed.order!.version);
  });

  it('keeps client order ids per account: the same id is free for another account', async () => {
    await alice.place(restingBuy({ clientOrderId: 'shared-name-2' }));
    const theirs = await bob.place(restingBuy({ clientOrderId: 'shared-name-2' }));
    assert.equal(theirs.order!.clientOrderId, 'shared-name-2');
    assert.equal((await bob.getByClientId('shared-name-2')).order!.orderId, theirs.order!.orderId);
  });

  it("streams only the caller's own executions", async () => {
    // Both open a live stream, then both place orders that trade with each other (on
    // BTC-USD, so the portfolio test below starts from flat MSFT positions).
    const open = (c: OrderClient) => {
      const got: { orderId: string; clientOrderId: string }[] = [];
      const s = c.client.raw.makeServerStreamRequest<Buffer, Buffer>(
        '/tierbook.v1.OrderService/StreamExecutions', (b) => b, (b) => b,
        Buffer.from(toBinary(StreamExecutionsRequestSchema, create(StreamExecutionsRequestSchema, {}))),
        c.client.metadata(), { deadline: Date.now() + 30_000 },
      );
      s.on('data', (b: Buffer) => {
        const e = fromBinary(StreamExecutionsResponseSchema, b);
        got.push({ orderId: e.order?.orderId ?? e.fill?.orderId ?? '', clientOrderId: e.order?.clientOrderId ?? e.fill?.clientOrderId ?? '' });
      });
      s.on('error', () => {});
      return { got, stop: () => s.cancel() };
    };
    const sa = open(alice);
    const sb = open(bob);
    try {
      // Ready when each stream has delivered something of its own: a resting order placed
      // (and cancelled) until it shows, instead of sleeping and hoping it registered.
      for (const [c, s, who] of [[alice, sa, 'a'], [bob, sb, 'b']] as const) {
        for (let i = 0; i < 50; i++) {
          const probe = await c.place(restingBuy({ clientOrderId: `iso-ready-${who}-${i}` }));
          await cancel(c, { orderId: probe.order!.orderId });
          await new Promise((r) => setTimeout(r, 50));
          if (s.got.some((e) => e.orderId === probe.order!.orderId)) break;
        }
      }
      const bobOrder = await bob.place({ ...restingBuy({ clientOrderId: 'iso-stream-b' }), symbol: 'BTC-USD', priceTicks: 640_000_000n, quantityLots: 10n });
      const aliceOrder = await alice.place({ ...restingBuy({ clientOrderId: 'iso-stream-a' }), symbol: 'BTC-USD', side: Side.SELL, timeInForce: TimeInForce.IOC, priceTicks: 640_000_000n, quantityLots: 10n });
      const ids = { a: aliceOrder.order!.orderId, b: bobOrder.order!.orderId };
      // Bounded wait for each side to see its own order.
      for (let i = 0; i < 50 && !(sa.got.some((e) => e.orderId === ids.a) && sb.got.some((e) => e.orderId === ids.b)); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(sa.got.some((e) => e.orderId === ids.a), 'alice sees her executions');
      assert.ok(sb.got.some((e) => e.orderId === ids.b), 'bob sees his executions');
      assert.ok(!sa.got.some((e) => e.orderId === ids.b), "alice never sees bob's executions");
      assert.ok(!sb.got.some((e) => e.orderId === ids.a), "bob never sees alice's executions");
    } finally {
      sa.stop();
      sb.stop();
    }
  });

  it('lists only the caller\'s orders', async () => {
    const [a, b] = await Promise.all([list(alice), list(bob)]);
    const aIds = new Set(a.orders.map((o) => o.orderId));
    assert.ok(a.orders.length > 0 && b.orders.length > 0);
    for (const o of b.orders) assert.ok(!aIds.has(o.orderId), `bob sees alice's order ${o.orderId}`);
  });

  it('shows each side of a trade only its own position and fills', async () => {
    // Alice sells 3 into a resting buy of Bob's on MSFT (tick 5).
    await bob.place({ ...restingBuy(), symbol: 'MSFT', priceTicks: 4_200_000n, quantityLots: 3n });
    await alice.place({ ...restingBuy(), symbol: 'MSFT', side: Side.SELL, type: OrderType.LIMIT, timeInForce: TimeInForce.IOC, priceTicks: 4_200_000n, quantityLots: 3n });
    const portfolio = (c: OrderClient) =>
      c.client.unary(AnalyticsService, 'GetPortfolio', GetPortfolioRequestSchema, GetPortfolioResponseSchema, {});
    const trades = (c: OrderClient) =>
      c.client.unary(AnalyticsService, 'ListTrades', ListTradesRequestSchema, ListTradesResponseSchema, { symbol: 'MSFT' });
    const pos = (p: Awaited<ReturnType<typeof portfolio>>) => p.positions.find((x) => x.symbol === 'MSFT')?.quantityLots;
    // The fill reaches Postgres through the sync thread within moments; wait for it (bounded).
    let [pa, pb] = await Promise.all([portfolio(alice), portfolio(bob)]);
    for (let i = 0; i < 100 && (pos(pa) === undefined || pos(pb) === undefined); i++) {
      await new Promise((r) => setTimeout(r, 100));
      [pa, pb] = await Promise.all([portfolio(alice), portfolio(bob)]);
    }
    assert.equal(pos(pa), -3n);
    assert.equal(pos(pb), 3n);
    const [ta, tb] = await Promise.all([trades(alice), trades(bob)]);
    const aOrders = new Set((await list(alice)).orders.map((o) => o.orderId));
    for (const f of ta.fills) assert.ok(aOrders.has(f.orderId), 'alice sees only her fills');
    for (const f of tb.fills) assert.ok(!aOrders.has(f.orderId), 'bob never sees alice\'s fills');
    assert.ok(ta.fills.length > 0 && tb.fills.length > 0, 'both sides have fills to compare');
  });
});
