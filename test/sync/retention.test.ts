/**
 * Finished orders leave Redis after their retention window, once the sync has committed their
 * events, and Postgres then answers for them exactly as Redis did: GetOrder, ListOrders, a
 * retry by client order id, cancel and amend refusals. Real Redis, Postgres, nginx, gateway
 * and sync thread; a 1-second retention so the tests see several windows pass.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { toJsonString } from '@bufbuild/protobuf';
import {
  AmendOrderRequestSchema, AmendOrderResponseSchema, CancelOrderRequestSchema, CancelOrderResponseSchema,
  GetOrderRequestSchema, GetOrderResponseSchema, ListOrdersRequestSchema, ListOrdersResponseSchema, OrderService,
  PlaceOrderRequestSchema, PlaceOrderResponseSchema,
} from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderSchema, OrderStatus, OrderType, Side, TimeInForce, type Order } from '../../src/gen/tierbook/v1/types_pb.js';
import { accountBookKey, clientOrderKey, clientOrderReservationKey, finishedOrdersKey, orderKey } from '../../src/domain/matching/keys.js';
import { eventStreamKey } from '../../src/domain/events.js';
import { rebuildFromConfig } from '../../src/cli/rebuild.js';
import { startSyncThread, type SyncThread } from '../../src/sync/index.js';
import { watchStreams } from '../../src/sync/stream-watch.js';
import { sweepFinishedOrders } from '../../src/sync/order-sweeper.js';
import { emptyStats } from '../../src/sync/sync-stats.js';
import { expectError, TestClient } from '../support/grpc-client.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { writeInstruments } from '../analytics/support/harness.js';
import { eventually } from './support/pg-state.js';
import { flushAll, ON_CLUSTER } from '../support/test-redis.js';

const RETENTION_MS = 1_000;
let stack: TestStack;
let sync: SyncThread | undefined;
let alice: TestClient;
let aliceId: string;
let bob: TestClient;
let bobId: string;
const clients: TestClient[] = [];

type PlaceReq = Parameters<typeof alice.unary<typeof PlaceOrderRequestSchema, typeof PlaceOrderResponseSchema>>[4];
const place = (c: TestClient, req: PlaceReq) => c.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, { symbol: 'AAA', type: OrderType.LIMIT, ...req });
const getOrder = (c: TestClient, ref: { orderId?: string; clientOrderId?: string }) => c.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, ref);
const listOrders = (c: TestClient, req: { pageSize?: number; pageToken?: string; symbol?: string; openOnly?: boolean }) =>
  c.unary(OrderService, 'ListOrders', ListOrdersRequestSchema, ListOrdersResponseSchema, req);
const json = (o: Order | undefined) => (o ? toJsonString(OrderSchema, o) : 'none');

/** Whether the order's hash is still in Redis. */
const inRedis = async (orderId: string, symbol = 'AAA') => (await stack.redis.exists(orderKey(symbol, orderId))) === 1;

const syncConfig = () => stack.config;

before(async () => {
  stack = await startTestStack({ env: {
    TIERBOOK_INSTRUMENTS_FILE: writeInstruments(),
    TIERBOOK_ORDER_RETENTION_MS: String(RETENTION_MS),
    TIERBOOK_SYNC_TRIM_INTERVAL_MS: '200',
    TIERBOOK_SYNC_DISCOVER_INTERVAL_MS: '100',
    TIERBOOK_SYNC_SCAN_INTERVAL_MS: '100',
    TIERBOOK_SYNC_LINGER_MS: '2',
    TIERBOOK_SYNC_MAX_BACKOFF_MS: '200',
    // The stalled-sync test leaves an entry pending on a consumer that then goes away.
    TIERBOOK_SYNC_CLAIM_IDLE_MS: '1000',
  } });
  sync = await startSyncThread(syncConfig(), pino({ level: 'silent' }));
  const a = await stack.createAccount('PRO', 'alice');
  const b = await stack.createAccount('ELITE', 'bob');
  [aliceId, bobId] = [a.accountId, b.accountId];
  alice = new TestClient(stack.target, a.apiKey);
  bob = new TestClient(stack.target, b.apiKey);
  clients.push(alice, bob);
});

after(async () => {
  for (const c of clients) c.close();
  await sync?.stop();
  await stack?.stop();
});

describe('a finished order after its retention window', () => {
  test('leaves Redis, and GetOrder, ListOrders and a retry answer exactly as before', { timeout: 60_000 }, async () => {
    const makerReq: PlaceReq = { side: Side.SELL, priceTicks: 1000n, quantityLots: 10n, clientOrderId: 'ret-maker' };
    const takerReq: PlaceReq = { side: Side.BUY, priceTicks: 1000n, quantityLots: 10n, timeInForce: TimeInForce.IOC, clientOrderId: 'ret-taker' };
    const maker = await place(bob, makerReq);
    const taker = await place(alice, takerReq);
    assert.equal(taker.order!.status, OrderStatus.FILLED);
    assert.equal(taker.fills.length, 1);
    const id = taker.order!.orderId;

    // What a client sees while the order is in Redis.
    const before = {
      byId: json((await getOrder(alice, { orderId: id })).order),
      byCoid: json((await getOrder(alice, { clientOrderId: 'ret-taker' })).order),
      list: (await listOrders(alice, { symbol: 'AAA' })).orders.map(json),
      retry: toJsonString(PlaceOrderResponseSchema, await place(alice, takerReq)),
      makerRetry: toJsonString(PlaceOrderResponseSchema, await place(bob, makerReq)),
    };
    assert.equal(before.retry, toJsonString(PlaceOrderResponseSchema, taker), 'a retry returns the first result');
    assert.equal(before.makerRetry, toJsonString(PlaceOrderResponseSchema, maker), 'the maker\'s retry shows it as placed (NEW), not as filled later');

    await eventually('both orders left Redis', async () => !(await inRedis(id)) && !(await inRedis(maker.order!.orderId)));
    assert.equal(await stack.redis.zcard(accountBookKey('AAA', aliceId, 'all')), 0, 'the all-orders index entry left with it');
    assert.equal(await stack.redis.zscore(finishedOrdersKey('AAA'), id), null);
    const record = await stack.redis.hgetall(clientOrderKey('AAA', aliceId, 'ret-taker'));
    assert.deepEqual(Object.keys(record).sort(), ['fp', 'oid', 'snap'], 'the idempotency record keeps only fingerprint, order id and placement snapshot');
    const bytes = Number(await stack.redis.memory('USAGE', clientOrderKey('AAA', aliceId, 'ret-taker')));
    const reservationBytes = Number(await stack.redis.memory('USAGE', clientOrderReservationKey(aliceId, 'ret-taker')));
    // A cluster node keeps each key in its slot's index too: a few bytes more per key.
    assert.ok(bytes + reservationBytes < (ON_CLUSTER ? 420 : 400), `a retired order's idempotency keys take ${bytes} + ${reservationBytes} bytes`);
    const ttl = await stack.redis.pttl(clientOrderKey('AAA', aliceId, 'ret-taker'));
    assert.ok(ttl > 0 && ttl <= stack.config.orders.idempotencyWindowMs, `the record ends with the idempotency window (pttl ${ttl})`);

    assert.equal(json((await getOrder(alice, { orderId: id })).order), before.byId, 'GetOrder by id, from Postgres');
    assert.equal(json((await getOrder(alice, { clientOrderId: 'ret-taker' })).order), before.byCoid, 'GetOrder by client order id');
    assert.deepEqual((await listOrders(alice, { symbol: 'AAA' })).orders.map(json), before.list, 'ListOrders');
    assert.deepEqual((await listOrders(alice, {})).orders.map(json), before.list, 'ListOrders over every book');
    assert.equal(toJsonString(PlaceOrderResponseSchema, await place(alice, takerReq)), before.retry, 'a retry still returns the first result');
    assert.equal(toJsonString(PlaceOrderResponseSchema, await place(bob, makerReq)), before.makerRetry);

    const dup = await expectError(place(alice, { ...takerReq, quantityLots: 11n }));
    assert.deepEqual([dup.code, dup.reason], [6, 'DUPLICATE_CLIENT_ORDER_ID'], 'other content with a used id is still refused');

    const cancel = await expectError(alice.unary(OrderService, 'CancelOrder', CancelOrderRequestSchema, CancelOrderResponseSchema, { orderId: id }));
    assert.deepEqual([cancel.code, cancel.reason, cancel.message], [9, 'ORDER_NOT_WORKING', `order_id: order ${id} is FILLED and can no longer be canceled`]);
    const amend = await expectError(alice.unary(OrderService, 'AmendOrder', AmendOrderRequestSchema, AmendOrderResponseSchema, { clientOrderId: 'ret-taker', newQuantityLots: 5n }));
    assert.deepEqual([amend.code, amend.reason], [9, 'ORDER_NOT_WORKING']);
    const otherAccount = await expectError(getOrder(bob, { orderId: id }));
    assert.deepEqual([otherAccount.code, otherAccount.reason], [5, 'ORDER_NOT_FOUND'], "another account's retired order is not found");
    const never = await expectError(alice.unary(OrderService, 'CancelOrder', CancelOrderRequestSchema, CancelOrderResponseSchema, { orderId: 'AAA:999999' }));
    assert.deepEqual([never.code, never.reason], [5, 'ORDER_NOT_FOUND']);
  });

  test('an open order never leaves, however old', { timeout: 30_000 }, async () => {
    const open = await place(alice, { side: Side.BUY, priceTicks: 900n, quantityLots: 1n, clientOrderId: 'ret-open' });
    await new Promise((r) => setTimeout(r, RETENTION_MS * 3));
    assert.ok(await inRedis(open.order!.orderId));
    assert.equal(await stack.redis.pttl(clientOrderReservationKey(aliceId, 'ret-open')), -1, 'its client order id stays reserved');
    const dup = await expectError(place(alice, { side: Side.SELL, priceTicks: 2000n, quantityLots: 1n, clientOrderId: 'ret-open' }));
    assert.equal(dup.reason, 'DUPLICATE_CLIENT_ORDER_ID');
  });
});

describe('a stalled sync', () => {
  test('holds finished orders in Redis until their events are committed, then they leave', { timeout: 60_000 }, async () => {
    await sync!.stop();
    sync = undefined;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await place(alice, { side: Side.BUY, priceTicks: 800n, quantityLots: 1n, timeInForce: TimeInForce.IOC })).order!.orderId);
    // An entry the group has read but not committed (a sync mid-batch), then the rest unread.
    await stack.redis.xreadgroup('GROUP', 'pg-sync', 'stalled', 'COUNT', 1, 'STREAMS', eventStreamKey('AAA'), '>');
    await new Promise((r) => setTimeout(r, RETENTION_MS * 2));
    // The housekeeping pass the sync thread runs, run here while the sync writes nothing.
    const stats = emptyStats();
    await watchStreams(stack.redis, [eventStreamKey('AAA')], stack.config.sync, stack.config.orders, stats, pino({ level: 'silent' }));
    for (const id of ids) assert.ok(await inRedis(id), `${id} waits for the sync`);
    assert.equal(stats.ordersRetired, 0);

    sync = await startSyncThread(syncConfig(), pino({ level: 'silent' }));
    await eventually('the orders left after the sync committed them', async () => {
      for (const id of ids) if (await inRedis(id)) return false;
      return true;
    }, 30_000);
    const rows = await stack.sql`SELECT order_id FROM orders WHERE order_id = ANY(${ids})`;
    assert.equal(rows.length, ids.length, 'every one of them is in Postgres');
  });
});

describe('ListOrders while orders move from Redis to Postgres', () => {
  test('pages return every order once, newest first', { timeout: 60_000 }, async () => {
    const carol = await stack.createAccount('PRO', 'carol');
    const c = new TestClient(stack.target, carol.apiKey);
    clients.push(c);
    const placed: string[] = [];
    for (let i = 0; i < 24; i++) {
      // IOC with nothing to trade against: finished (EXPIRED) at once, so each can leave.
      placed.push((await place(c, { symbol: i % 2 ? 'AAA' : 'BBB', side: Side.BUY, priceTicks: 700n, quantityLots: 1n, timeInForce: TimeInForce.IOC })).order!.orderId);
    }
    placed.push((await place(c, { side: Side.BUY, priceTicks: 700n, quantityLots: 1n })).order!.orderId); // one stays open
    const inRedisAtStart = (await Promise.all(placed.map((id) => inRedis(id, id.split(':')[0])))).filter(Boolean).length;
    const seen: string[] = [];
    let token = '';
    do {
      const page = await listOrders(c, { pageSize: 3, pageToken: token });
      seen.push(...page.orders.map((o) => o.orderId));
      token = page.nextPageToken;
      await new Promise((r) => setTimeout(r, 150)); // the sweeper runs every 200 ms
    } while (token);
    const inRedisAtEnd = (await Promise.all(placed.map((id) => inRedis(id, id.split(':')[0])))).filter(Boolean).length;
    assert.ok(inRedisAtStart > inRedisAtEnd, `orders moved during paging (${inRedisAtStart} in Redis at the start, ${inRedisAtEnd} at the end)`);
    assert.deepEqual(seen, [...placed].reverse(), 'every order once, newest first');
  });
});

describe('the idempotency window', () => {
  test('after it, the client order id is free and places a new order; GetOrder finds the newest', { timeout: 30_000 }, async () => {
    const req: PlaceReq = { symbol: 'CCC', side: Side.BUY, priceTicks: 90n, quantityLots: 1n, timeInForce: TimeInForce.IOC, clientOrderId: 'ret-window' };
    const first = await place(alice, req);
    await eventually('committed', async () => (await stack.sql`SELECT 1 FROM orders WHERE order_id = ${first.order!.orderId}`).length === 1);
    // A sweep with a window already over (what the sync does once the window has passed).
    await sweepFinishedOrders(stack.redis, 'CCC', Date.now() + 1, { retentionMs: 0, idempotencyWindowMs: 0 });
    // One EXISTS per key: the reservation and the record live in different cluster slots.
    assert.equal(await stack.redis.exists(clientOrderReservationKey(aliceId, 'ret-window')) + await stack.redis.exists(clientOrderKey('CCC', aliceId, 'ret-window')), 0, 'its keys are gone');
    const cancel = await expectError(alice.unary(OrderService, 'CancelOrder', CancelOrderRequestSchema, CancelOrderResponseSchema, { clientOrderId: 'ret-window' }));
    assert.deepEqual([cancel.code, cancel.reason], [9, 'ORDER_NOT_WORKING'], 'the old order is still known, and finished');
    assert.equal(json((await getOrder(alice, { clientOrderId: 'ret-window' })).order), json(first.order));
    const second = await place(alice, req);
    assert.notEqual(second.order!.orderId, first.order!.orderId, 'a new order');
    assert.equal((await getOrder(alice, { clientOrderId: 'ret-window' })).order!.orderId, second.order!.orderId);
  });
});

describe('a rebuild after retention', () => {
  test('restores every open order and position', { timeout: 90_000 }, async () => {
    const rest = await place(bob, { side: Side.SELL, priceTicks: 1200n, quantityLots: 5n, clientOrderId: 'ret-rebuild' });
    await place(alice, { side: Side.BUY, priceTicks: 1200n, quantityLots: 2n, timeInForce: TimeInForce.IOC });
    const openBefore = (await listOrders(bob, { openOnly: true })).orders.map(json);
    assert.ok(openBefore.some((o) => o.includes(rest.order!.orderId)));
    const positions = async () => (await stack.sql`SELECT account_id, symbol, quantity::text FROM positions ORDER BY 1, 2`).map((r) => `${r.account_id}/${r.symbol}/${r.quantity}`);
    await eventually('the sync caught up', async () => (await stack.sql`SELECT 1 FROM orders WHERE order_id = ${rest.order!.orderId} AND filled = 2`).length === 1);
    await eventually('finished orders left', async () => (await stack.redis.zcard(finishedOrdersKey('AAA'))) === 0);
    const positionsBefore = await positions();
    await sync!.stop();
    sync = undefined;
    await flushAll(stack.redis);
    const out = Object.assign(new Writable({ write: (_c, _e, cb) => cb() }), { isTTY: false });
    await rebuildFromConfig({ config: stack.config, out });
    assert.deepEqual((await listOrders(bob, { openOnly: true })).orders.map(json), openBefore, 'the open orders');
    const p = await stack.redis.hget(accountBookKey('AAA', bobId, 'pos'), 'qty');
    assert.equal(p, positionsBefore.find((x) => x.startsWith(`${bobId}/AAA/`))!.split('/')[2], "bob's position");
    assert.equal(json((await getOrder(alice, { clientOrderId: 'ret-taker' })).order).includes('ORDER_STATUS_FILLED'), true, 'a retired order is still found');
  });
});

describe('Redis at maxmemory', () => {
  // maxmemory is per node on a cluster; this test drives one Redis to its limit.
  test('a PlaceOrder gets UNAVAILABLE with a readable reason; acknowledged orders still reach Postgres', { timeout: 60_000, skip: ON_CLUSTER && 'single-Redis only: maxmemory is a per-node setting' }, async () => {
    await sync?.stop();
    sync = undefined;
    const acked = await place(alice, { side: Side.BUY, priceTicks: 650n, quantityLots: 1n, clientOrderId: 'before-oom' });
    const used = Number(/used_memory:(\d+)/.exec(await stack.redis.info('memory'))![1]);
    await stack.redis.config('SET', 'maxmemory', String(used + 2 * 1024 * 1024));
    try {
      // Fill Redis up to its limit, as a growing dataset would.
      // (Large values first, then small ones: a refused command's own buffer is freed again.)
      let i = 0;
      for (const size of [64 * 1024, 1024, 64]) {
        for (;;) {
          const full = await stack.redis.set(`oom-filler:${i++}`, 'x'.repeat(size)).then(() => false, (err: Error) => /^OOM /.test(err.message));
          if (full) break;
          assert.ok(i < 100_000, 'Redis never reached maxmemory');
        }
      }
      const refused = await expectError(place(alice, { side: Side.BUY, priceTicks: 650n, quantityLots: 1n, clientOrderId: 'during-oom' }));
      assert.deepEqual([refused.code, refused.reason], [14, 'BACKEND_UNAVAILABLE']);
      assert.match(refused.message, /out of memory.*nothing was changed/);
      // The sync still drains (reads and acknowledgements are allowed at maxmemory).
      sync = await startSyncThread(syncConfig(), pino({ level: 'silent' }));
      await eventually('the acknowledged order reached Postgres', async () =>
        (await stack.sql`SELECT 1 FROM orders WHERE order_id = ${acked.order!.orderId}`).length === 1);
    } finally {
      const fillers = await stack.redis.keys('oom-filler:*');
      if (fillers.length) await stack.redis.del(...fillers);
      await stack.redis.config('SET', 'maxmemory', '0');
    }
    const after = await place(alice, { side: Side.BUY, priceTicks: 650n, quantityLots: 1n, clientOrderId: 'during-oom' });
    assert.equal(after.order!.status, OrderStatus.NEW, 'the refused order was never placed: its id is still free');
  });
});
