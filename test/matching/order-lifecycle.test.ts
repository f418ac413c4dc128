import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/domain/errors.js';
import {
  AmendOrderRequestSchema, AmendOrderResponseSchema, CancelOrderRequestSchema, CancelOrderResponseSchema,
  GetOrderRequestSchema, GetOrderResponseSchema, ListOrdersRequestSchema, ListOrdersResponseSchema,
  PlaceOrderRequestSchema, PlaceOrderResponseSchema, type PlaceOrderRequest,
} from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderStatus, OrderType, Side } from '../../src/gen/tierbook/v1/types_pb.js';
import type { WorkerContext } from '../../src/workers/handler.js';
import { startSwitchableRedis, type SwitchableRedis } from '../support/test-redis.js';
import { call, callRaw, exchangeFactory, ok } from './harness.js';

let srv: SwitchableRedis;
const ex = exchangeFactory(() => srv.url);
before(async () => { srv = await startSwitchableRedis(); });
after(async () => { ex.closeAll(); await srv.stop(); });

type Req = Partial<Omit<PlaceOrderRequest, '$typeName' | '$unknown'>>;
const place = async (ctx: WorkerContext, o: Req, acct = 'alice') => ok(await call(ctx, 'PlaceOrder', PlaceOrderRequestSchema,
  { symbol: 'AAA', side: Side.BUY, type: OrderType.LIMIT, priceTicks: 1000n, quantityLots: 10n, ...o }, PlaceOrderResponseSchema, acct));
const cancel = (ctx: WorkerContext, ref: { orderId?: string; clientOrderId?: string }, acct = 'alice') =>
  call(ctx, 'CancelOrder', CancelOrderRequestSchema, ref, CancelOrderResponseSchema, acct);
const amend = (ctx: WorkerContext, ref: { orderId?: string; clientOrderId?: string; newPriceTicks?: bigint; newQuantityLots?: bigint }, acct = 'alice') =>
  call(ctx, 'AmendOrder', AmendOrderRequestSchema, ref, AmendOrderResponseSchema, acct);
const get = (ctx: WorkerContext, ref: { orderId?: string; clientOrderId?: string }, acct = 'alice') =>
  call(ctx, 'GetOrder', GetOrderRequestSchema, ref, GetOrderResponseSchema, acct);
const list = (ctx: WorkerContext, req: { symbol?: string; openOnly?: boolean; pageSize?: number; pageToken?: string }, acct = 'alice') =>
  call(ctx, 'ListOrders', ListOrdersRequestSchema, req, ListOrdersResponseSchema, acct);

function isError(r: unknown, reason: string, field?: string): void {
  assert.ok(r instanceof ApiError, `expected ${reason}, got success`);
  assert.equal(r.reason, reason, r.message);
  if (field) assert.match(r.message, new RegExp(field));
}

describe('order references (cancel, amend, get)', () => {
  for (const [name, fn] of [['CancelOrder', cancel], ['GetOrder', get]] as const) {
    test(`${name}: bad references`, async () => {
      const ctx = await ex.fresh();
      isError(await fn(ctx, {}), 'INVALID_FIELD', 'order_id');
      isError(await fn(ctx, { orderId: 'AAA:1', clientOrderId: 'x' }), 'INVALID_FIELD', 'order_id');
      isError(await fn(ctx, { clientOrderId: 'bad id' }), 'INVALID_FIELD', 'client_order_id');
      isError(await fn(ctx, { orderId: 'garbage' }), 'ORDER_NOT_FOUND');
      isError(await fn(ctx, { orderId: 'AAA:99' }), 'ORDER_NOT_FOUND');
      isError(await fn(ctx, { orderId: 'ZZZ:1' }), 'ORDER_NOT_FOUND'); // no such book
      isError(await fn(ctx, { clientOrderId: 'never-used' }), 'ORDER_NOT_FOUND');
      const theirs = await place(ctx, { clientOrderId: 'b1' }, 'bob');
      isError(await fn(ctx, { orderId: theirs.order!.orderId }), 'ORDER_NOT_FOUND'); // someone else's order
      isError(await fn(ctx, { clientOrderId: 'b1' }), 'ORDER_NOT_FOUND');
    });
  }
  test('malformed request bytes', async () => {
    const ctx = await ex.fresh();
    for (const m of ['CancelOrder', 'AmendOrder', 'GetOrder', 'ListOrders']) {
      isError(await callRaw(ctx, m, new Uint8Array([0x0a, 0xff]), GetOrderResponseSchema), 'MALFORMED_REQUEST');
    }
  });
});

describe('CancelOrder', () => {
  test('by order id and by client order id; a finished order is ORDER_NOT_WORKING', async () => {
    const ctx = await ex.fresh();
    const a = await place(ctx, {});
    const c = ok(await cancel(ctx, { orderId: a.order!.orderId }));
    assert.deepEqual([c.order!.status, c.order!.statusReason, c.order!.remainingLots], [OrderStatus.CANCELED, 'CANCELED_BY_OWNER', 0n]);
    isError(await cancel(ctx, { orderId: a.order!.orderId }), 'ORDER_NOT_WORKING');
    await place(ctx, { clientOrderId: 'mine' });
    assert.equal(ok(await cancel(ctx, { clientOrderId: 'mine' })).order!.status, OrderStatus.CANCELED);
    const g = ok(await get(ctx, { clientOrderId: 'mine' }));
    assert.equal(g.order!.status, OrderStatus.CANCELED);
    assert.equal(g.order!.version, 2n);
  });
});

describe('AmendOrder', () => {
  test('bad new values', async () => {
    const ctx = await ex.fresh();
    const a = await place(ctx, { symbol: 'BBB', priceTicks: 1000n, quantityLots: 100n });
    const id = a.order!.orderId;
    isError(await amend(ctx, { orderId: id }), 'INVALID_FIELD', 'new_price_ticks');
    isError(await amend(ctx, { orderId: 'ZZZ:1', newQuantityLots: 10n }), 'ORDER_NOT_FOUND');
    isError(await amend(ctx, { orderId: id, newPriceTicks: -5n }), 'INVALID_FIELD', 'new_price_ticks');
    isError(await amend(ctx, { orderId: id, newQuantityLots: -10n }), 'INVALID_FIELD', 'new_quantity_lots');
    isError(await amend(ctx, { orderId: id, newPriceTicks: 1001n }), 'PRICE_OFF_TICK', 'new_price_ticks');
    isError(await amend(ctx, { orderId: id, newPriceTicks: 100005n }), 'INVALID_FIELD', 'new_price_ticks');
    isError(await amend(ctx, { orderId: id, newQuantityLots: 15n }), 'QUANTITY_OFF_LOT', 'new_quantity_lots');
    isError(await amend(ctx, { orderId: id, newQuantityLots: 1010n }), 'QUANTITY_OUT_OF_RANGE', 'new_quantity_lots');
    isError(await amend(ctx, { orderId: id, newPriceTicks: 1500n }), 'PRICE_OUT_OF_BAND');
    isError(await amend(ctx, { orderId: id, newPriceTicks: 100n }), 'PRICE_OUT_OF_BAND');
    isError(await amend(ctx, { orderId: id, newQuantityLots: 1000n, newPriceTicks: 1100n }), 'NOTIONAL_LIMIT_EXCEEDED');
  });
  test('quantity down keeps time priority; quantity up or a new price re-queues', async () => {
    const ctx = await ex.fresh();
    const first = await place(ctx, { side: Side.SELL, quantityLots: 10n }, 'm1');
    const second = await place(ctx, { side: Side.SELL, quantityLots: 10n }, 'm2');
    const down = ok(await amend(ctx, { orderId: first.order!.orderId, newQuantityLots: 6n }, 'm1'));
    assert.deepEqual([down.order!.quantityLots, down.order!.remainingLots, down.order!.version], [6n, 6n, 2n]);
    let t = await place(ctx, { quantityLots: 1n, timeInForce: 2 });
    assert.equal(t.fills[0]!.priceTicks, 1000n);
    assert.equal((await get(ctx, { orderId: first.order!.orderId }, 'm1') as { order?: { filledLots: bigint } }).order!.filledLots, 1n, 'm1 kept its place');
    ok(await amend(ctx, { orderId: first.order!.orderId, newQuantityLots: 20n }, 'm1')); // up: behind m2 now
    t = await place(ctx, { quantityLots: 2n, timeInForce: 2 });
    const g2 = ok(await get(ctx, { orderId: second.order!.orderId }, 'm2'));
    assert.equal(g2.order!.filledLots, 2n, 'm2 is first after m1 re-queued');
    ok(await amend(ctx, { orderId: second.order!.orderId, newPriceTicks: 1001n }, 'm2')); // m2 re-queued at a worse price
    t = await place(ctx, { quantityLots: 1n, timeInForce: 2 });
    assert.equal(ok(await get(ctx, { orderId: first.order!.orderId }, 'm1')).order!.filledLots, 2n);
  });
  test('a price that crosses trades at once; finished orders and filled quantity are refused', async () => {
    const ctx = await ex.fresh();
    await place(ctx, { side: Side.SELL, quantityLots: 4n, priceTicks: 1005n }, 'bob');
    const mine = await place(ctx, { quantityLots: 10n, priceTicks: 1000n, clientOrderId: 'bid' });
    const a = ok(await amend(ctx, { clientOrderId: 'bid', newPriceTicks: 1005n }));
    assert.deepEqual([a.order!.status, a.order!.filledLots, a.fills.length, a.fills[0]!.priceTicks], [OrderStatus.PARTIALLY_FILLED, 4n, 1, 1005n]);
    isError(await amend(ctx, { orderId: mine.order!.orderId, newQuantityLots: 4n }), 'QUANTITY_OUT_OF_RANGE');
    ok(await cancel(ctx, { orderId: mine.order!.orderId }));
    isError(await amend(ctx, { orderId: mine.order!.orderId, newQuantityLots: 8n }), 'ORDER_NOT_WORKING');
    const ioc = await place(ctx, { quantityLots: 1n, timeInForce: 2 });
    isError(await amend(ctx, { orderId: ioc.order!.orderId, newQuantityLots: 2n }), 'ORDER_NOT_WORKING');
  });
  test('post-only amend that would take, and the position limit on quantity up', async () => {
    const ctx = await ex.fresh();
    await place(ctx, { side: Side.SELL, quantityLots: 5n, priceTicks: 1005n }, 'bob');
    const p = await place(ctx, { priceTicks: 1000n, postOnly: true });
    isError(await amend(ctx, { orderId: p.order!.orderId, newPriceTicks: 1005n }), 'POST_ONLY_WOULD_TAKE');
    const c = await place(ctx, { symbol: 'CCC', priceTicks: 100n, quantityLots: 100n });
    isError(await amend(ctx, { orderId: c.order!.orderId, newQuantityLots: 151n }), 'QUANTITY_OUT_OF_RANGE'); // > maxQty 100
    const d = await place(ctx, { symbol: 'CCC', priceTicks: 100n, quantityLots: 40n });
    isError(await amend(ctx, { orderId: d.order!.orderId, newQuantityLots: 60n }), 'POSITION_LIMIT_EXCEEDED'); // 100 + 60 > 150
    ok(await amend(ctx, { orderId: d.order!.orderId, newQuantityLots: 50n }));
    // Unchanged values are a no-op that still answers with the order.
    assert.equal(ok(await amend(ctx, { orderId: c.order!.orderId, newQuantityLots: 100n })).order!.version, 1n);
  });
});

describe('ListOrders', () => {
  test('pages newest first over all books without gaps or repeats; open_only; bad tokens', async () => {
    const ctx = await ex.fresh();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const sym = ['AAA', 'CCC', 'BBB'][i % 3]!;
      const r = await place(ctx, { symbol: sym, priceTicks: sym === 'CCC' ? 100n : 1000n, quantityLots: sym === 'BBB' ? 10n : 1n });
      ids.push(r.order!.orderId);
    }
    ok(await cancel(ctx, { orderId: ids[0]! }));
    await place(ctx, {}, 'bob');
    const seen: string[] = [];
    let token = '';
    for (;;) {
      const page = ok(await list(ctx, { pageSize: 3, pageToken: token }));
      seen.push(...page.orders.map((o) => o.orderId));
      assert.ok(page.orders.length <= 3);
      if (!page.nextPageToken) break;
      token = page.nextPageToken;
    }
    assert.deepEqual([...seen].sort(), [...ids].sort());
    assert.equal(seen.length, 7);
    const open = ok(await list(ctx, { openOnly: true }));
    assert.equal(open.orders.length, 6);
    const aaa = ok(await list(ctx, { symbol: 'AAA' }));
    assert.deepEqual(aaa.orders.map((o) => o.orderId), [ids[6], ids[3], ids[0]]);
    isError(await list(ctx, { pageToken: 'nonsense' }), 'INVALID_PAGE_TOKEN');
    const p1 = ok(await list(ctx, { pageSize: 1 }));
    isError(await list(ctx, { pageToken: p1.nextPageToken, symbol: 'AAA' }), 'INVALID_PAGE_TOKEN');
    isError(await list(ctx, { pageSize: 501 }), 'INVALID_FIELD', 'page_size');
    isError(await list(ctx, { pageSize: -1 }), 'INVALID_FIELD', 'page_size');
    isError(await list(ctx, { symbol: 'NOPE' }), 'UNKNOWN_SYMBOL');
  });
});

describe('Redis unavailable', () => {
  test('a lost connection is BACKEND_UNAVAILABLE, not INTERNAL', async () => {
    const { Redis } = await import('ioredis');
    const { freePort } = await import('../../src/devstack/ports.js');
    const { workerContext } = await import('./harness.js');
    const dead = new Redis(`redis://127.0.0.1:${await freePort()}`, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    dead.on('error', () => undefined);
    const ctx = workerContext(dead);
    const r = await call(ctx, 'GetOrder', GetOrderRequestSchema, { orderId: 'AAA:1' }, GetOrderResponseSchema);
    isError(r, 'BACKEND_UNAVAILABLE');
    dead.disconnect();
  });
});
