import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/domain/errors.js';
import {
  GetOrderRequestSchema, GetOrderResponseSchema,
  PlaceOrderRequestSchema, PlaceOrderResponseSchema, PlaceOrdersRequestSchema, PlaceOrdersResponseSchema,
  type PlaceOrderRequest,
} from '../../src/gen/tierbook/v1/order_service_pb.js';
import { Liquidity, OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce } from '../../src/gen/tierbook/v1/types_pb.js';
import type { WorkerContext } from '../../src/workers/handler.js';
import { startTestRedis, type TestServer } from '../support/servers.js';
import { call, callRaw, exchangeFactory, ok } from './harness.js';

let srv: TestServer;
const ex = exchangeFactory(() => srv.url, { maxBatchOrders: 3 });
before(async () => { srv = await startTestRedis(); });
after(async () => { ex.closeAll(); await srv.stop(); });

type Req = Partial<Omit<PlaceOrderRequest, '$typeName' | '$unknown'>>;
const limit = (o: Partial<Req> = {}): Req => ({
  symbol: 'AAA', side: Side.BUY, type: OrderType.LIMIT, priceTicks: 1000n, quantityLots: 10n, ...o,
});
const place = (ctx: WorkerContext, req: Req, acct = 'alice') =>
  call(ctx, 'PlaceOrder', PlaceOrderRequestSchema, req, PlaceOrderResponseSchema, acct);

/** A resting order's [status, filled, remaining], read back by its owner. */
async function makerState(ctx: WorkerContext, orderId: string, acct: string) {
  const o = ok(await call(ctx, 'GetOrder', GetOrderRequestSchema, { orderId }, GetOrderResponseSchema, acct)).order!;
  return [o.status, o.filledLots, o.remainingLots];
}

async function refused(ctx: WorkerContext, req: Req, reason: string, field?: string, acct = 'alice') {
  const r = await place(ctx, req, acct);
  assert.ok(r instanceof ApiError, `expected ${reason}, got success`);
  assert.equal(r.reason, reason, r.message);
  if (field) {
    assert.equal(r.metadata.field, field);
    assert.match(r.message, new RegExp(field));
  }
  return r;
}

describe('PlaceOrder refuses bad input with a precise reason', () => {
  test('bytes that are not a PlaceOrderRequest', async () => {
    const ctx = await ex.fresh();
    const r = await callRaw(ctx, 'PlaceOrder', new Uint8Array([0xff, 0xff, 0xff]), PlaceOrderResponseSchema);
    assert.ok(r instanceof ApiError);
    assert.equal(r.reason, 'MALFORMED_REQUEST');
  });
  const cases: [string, Partial<Req>, string, string?][] = [
    ['missing symbol', { symbol: '' }, 'INVALID_FIELD', 'symbol'],
    ['unknown symbol', { symbol: 'NOPE' }, 'UNKNOWN_SYMBOL', 'symbol'],
    ['side unset', { side: Side.UNSPECIFIED }, 'INVALID_FIELD', 'side'],
    ['type unset', { type: OrderType.UNSPECIFIED }, 'INVALID_FIELD', 'type'],
    ['unknown time in force', { timeInForce: 9 as TimeInForce }, 'INVALID_FIELD', 'time_in_force'],
    ['unknown self-trade mode', { selfTradePrevention: 9 as SelfTradePrevention }, 'INVALID_FIELD', 'self_trade_prevention'],
    ['client order id with bad characters', { clientOrderId: 'a b' }, 'INVALID_FIELD', 'client_order_id'],
    ['client order id too long', { clientOrderId: 'x'.repeat(65) }, 'INVALID_FIELD', 'client_order_id'],
    ['limit without price', { priceTicks: 0n }, 'INVALID_FIELD', 'price_ticks'],
    ['negative price', { priceTicks: -5n }, 'INVALID_FIELD', 'price_ticks'],
    ['market with a price', { type: OrderType.MARKET, priceTicks: 10n }, 'INVALID_FIELD', 'price_ticks'],
    ['market GTC', { type: OrderType.MARKET, priceTicks: 0n, timeInForce: TimeInForce.GTC }, 'INVALID_FIELD', 'time_in_force'],
    ['market post-only', { type: OrderType.MARKET, priceTicks: 0n, postOnly: true }, 'INVALID_FIELD', 'post_only'],
    ['post-only IOC', { postOnly: true, timeInForce: TimeInForce.IOC }, 'INVALID_FIELD', 'post_only'],
    ['price off the tick grid', { symbol: 'BBB', priceTicks: 1001n }, 'PRICE_OFF_TICK', 'price_ticks'],
    ['price above the instrument maximum', { priceTicks: 100001n }, 'INVALID_FIELD', 'price_ticks'],
    ['zero quantity', { quantityLots: 0n }, 'INVALID_FIELD', 'quantity_lots'],
    ['negative quantity', { quantityLots: -1n }, 'INVALID_FIELD', 'quantity_lots'],
    ['quantity off the lot grid', { symbol: 'BBB', quantityLots: 15n }, 'QUANTITY_OFF_LOT', 'quantity_lots'],
    ['quantity above the maximum', { quantityLots: 1001n }, 'QUANTITY_OUT_OF_RANGE', 'quantity_lots'],
  ];
  for (const [name, patch, reason, field] of cases) {
    test(name, async () => { await refused(await ex.fresh(), limit(patch), reason, field); });
  }
});

describe('PlaceOrder pre-trade risk', () => {
  test('price outside the band around the reference price, then around the last trade', async () => {
    const ctx = await ex.fresh();
    await refused(ctx, limit({ priceTicks: 1201n }), 'PRICE_OUT_OF_BAND'); // 1000 +- 20%
    await refused(ctx, limit({ priceTicks: 799n }), 'PRICE_OUT_OF_BAND');
    ok(await place(ctx, limit({ side: Side.SELL, priceTicks: 1200n, quantityLots: 1n }), 'bob'));
    ok(await place(ctx, limit({ priceTicks: 1200n, quantityLots: 1n }))); // trades at 1200: band is now 960..1440
    ok(await place(ctx, limit({ priceTicks: 1440n, quantityLots: 1n })));
    await refused(ctx, limit({ priceTicks: 959n }), 'PRICE_OUT_OF_BAND');
  });
  test('notional per order, for limit and market orders', async () => {
    const ctx = await ex.fresh();
    await refused(ctx, limit({ quantityLots: 501n }), 'NOTIONAL_LIMIT_EXCEEDED'); // 1000 * 501 > 500000
    // A market order is checked at the band edge it may trade up to (1200).
    await refused(ctx, limit({ type: OrderType.MARKET, priceTicks: 0n, quantityLots: 420n }), 'NOTIONAL_LIMIT_EXCEEDED');
  });
  test('position limit counts the position and working orders', async () => {
    const ctx = await ex.fresh();
    ok(await place(ctx, limit({ symbol: 'CCC', priceTicks: 100n, quantityLots: 100n })));
    await refused(ctx, limit({ symbol: 'CCC', priceTicks: 100n, quantityLots: 51n }), 'POSITION_LIMIT_EXCEEDED');
    ok(await place(ctx, limit({ symbol: 'CCC', priceTicks: 100n, quantityLots: 50n })));
    // Selling is still allowed: it reduces the worst case.
    ok(await place(ctx, limit({ symbol: 'CCC', side: Side.SELL, priceTicks: 120n, quantityLots: 100n })));
  });
});

describe('PlaceOrder matching outcomes', () => {
  test('price-time priority, partial fills at the maker price, unique fill ids', async () => {
    const ctx = await ex.fresh();
    const m1 = ok(await place(ctx, limit({ side: Side.SELL, priceTicks: 1001n, quantityLots: 5n }), 'm1'));
    const m2 = ok(await place(ctx, limit({ side: Side.SELL, priceTicks: 1000n, quantityLots: 5n }), 'm2'));
    const m3 = ok(await place(ctx, limit({ side: Side.SELL, priceTicks: 1000n, quantityLots: 5n }), 'm3'));
    const t = ok(await place(ctx, limit({ priceTicks: 1002n, quantityLots: 12n })));
    assert.deepEqual(t.fills.map((f) => [f.orderId, f.priceTicks, f.quantityLots, f.liquidity]), [
      [t.order!.orderId, 1000n, 5n, Liquidity.TAKER], [t.order!.orderId, 1000n, 5n, Liquidity.TAKER], [t.order!.orderId, 1001n, 2n, Liquidity.TAKER],
    ]);
    assert.equal(new Set(t.fills.map((f) => f.fillId)).size, 3);
    assert.equal(t.order!.status, OrderStatus.FILLED);
    assert.equal(t.order!.filledNotionalTicks, 1000n * 10n + 1001n * 2n);
    assert.ok(m1.order && m2.order && m3.order);
    // Each maker as its owner sees it: both at the better price filled, the worse one partly.
    assert.deepEqual(await makerState(ctx, m1.order.orderId, 'm1'), [OrderStatus.PARTIALLY_FILLED, 2n, 3n]);
    assert.deepEqual(await makerState(ctx, m2.order.orderId, 'm2'), [OrderStatus.FILLED, 5n, 0n]);
    assert.deepEqual(await makerState(ctx, m3.order.orderId, 'm3'), [OrderStatus.FILLED, 5n, 0n]);
  });
  test('time priority: at one price the earlier maker fills first, the later one waits', async () => {
    const ctx = await ex.fresh();
    const first = ok(await place(ctx, limit({ side: Side.SELL, priceTicks: 1000n, quantityLots: 5n }), 'm1'));
    const second = ok(await place(ctx, limit({ side: Side.SELL, priceTicks: 1000n, quantityLots: 5n }), 'm2'));
    // Smaller than the first maker: only time priority decides who trades.
    const t = ok(await place(ctx, limit({ priceTicks: 1000n, quantityLots: 3n })));
    assert.deepEqual(t.fills.map((f) => [f.priceTicks, f.quantityLots]), [[1000n, 3n]]);
    assert.deepEqual(await makerState(ctx, first.order!.orderId, 'm1'), [OrderStatus.PARTIALLY_FILLED, 3n, 2n]);
    assert.deepEqual(await makerState(ctx, second.order!.orderId, 'm2'), [OrderStatus.NEW, 0n, 5n]);
    // The next taker finishes the first maker before it touches the second.
    ok(await place(ctx, limit({ priceTicks: 1000n, quantityLots: 3n })));
    assert.deepEqual(await makerState(ctx, first.order!.orderId, 'm1'), [OrderStatus.FILLED, 5n, 0n]);
    assert.deepEqual(await makerState(ctx, second.order!.orderId, 'm2'), [OrderStatus.PARTIALLY_FILLED, 1n, 4n]);
  });
  test('GTC rest, IOC expiry, FOK kill, market on an empty book', async () => {
    const ctx = await ex.fresh();
    ok(await place(ctx, limit({ side: Side.SELL, quantityLots: 5n }), 'bob'));
    const ioc = ok(await place(ctx, limit({ quantityLots: 8n, timeInForce: TimeInForce.IOC })));
    assert.deepEqual([ioc.order!.status, ioc.order!.filledLots, ioc.order!.remainingLots, ioc.order!.statusReason], [OrderStatus.EXPIRED, 5n, 0n, 'NO_LIQUIDITY']);
    ok(await place(ctx, limit({ side: Side.SELL, quantityLots: 5n }), 'bob'));
    const fok = ok(await place(ctx, limit({ quantityLots: 8n, timeInForce: TimeInForce.FOK })));
    assert.deepEqual([fok.order!.status, fok.order!.filledLots, fok.fills.length], [OrderStatus.EXPIRED, 0n, 0]);
    const gtc = ok(await place(ctx, limit({ quantityLots: 8n })));
    assert.deepEqual([gtc.order!.status, gtc.order!.filledLots, gtc.order!.remainingLots], [OrderStatus.PARTIALLY_FILLED, 5n, 3n]);
    const mkt = ok(await place(ctx, limit({ symbol: 'CCC', type: OrderType.MARKET, priceTicks: 0n })));
    assert.deepEqual([mkt.order!.status, mkt.order!.statusReason], [OrderStatus.EXPIRED, 'NO_LIQUIDITY']);
  });
  test('post-only that would take is REJECTED, one that would not rests', async () => {
    const ctx = await ex.fresh();
    ok(await place(ctx, limit({ side: Side.SELL, priceTicks: 1000n }), 'bob'));
    const r = ok(await place(ctx, limit({ priceTicks: 1000n, postOnly: true })));
    assert.deepEqual([r.order!.status, r.order!.statusReason, r.fills.length], [OrderStatus.REJECTED, 'POST_ONLY_WOULD_TAKE', 0]);
    const ok2 = ok(await place(ctx, limit({ priceTicks: 999n, postOnly: true })));
    assert.equal(ok2.order!.status, OrderStatus.NEW);
  });
  for (const [mode, incoming, resting] of [
    [SelfTradePrevention.UNSPECIFIED, OrderStatus.CANCELED, OrderStatus.NEW],
    [SelfTradePrevention.CANCEL_NEWEST, OrderStatus.CANCELED, OrderStatus.NEW],
    [SelfTradePrevention.CANCEL_OLDEST, OrderStatus.FILLED, OrderStatus.CANCELED],
    [SelfTradePrevention.CANCEL_BOTH, OrderStatus.CANCELED, OrderStatus.CANCELED],
  ] as const) {
    test(`self-trade prevention ${SelfTradePrevention[mode]}`, async () => {
      const ctx = await ex.fresh();
      const own = ok(await place(ctx, limit({ side: Side.SELL, priceTicks: 1000n, quantityLots: 5n, clientOrderId: 'own' })));
      ok(await place(ctx, limit({ side: Side.SELL, priceTicks: 1001n, quantityLots: 5n }), 'bob'));
      const t = ok(await place(ctx, limit({ priceTicks: 1001n, quantityLots: 5n, selfTradePrevention: mode })));
      assert.equal(t.order!.status, incoming);
      if (incoming === OrderStatus.CANCELED) assert.equal(t.order!.statusReason, 'SELF_TRADE_PREVENTED');
      const { GetOrderRequestSchema, GetOrderResponseSchema } = await import('../../src/gen/tierbook/v1/order_service_pb.js');
      const g = ok(await call(ctx, 'GetOrder', GetOrderRequestSchema, { orderId: own.order!.orderId }, GetOrderResponseSchema, 'alice'));
      assert.equal(g.order!.status, resting);
    });
  }
});

describe('PlaceOrder idempotency on client_order_id (per account)', () => {
  test('a retry returns the first result; other content is ALREADY_EXISTS, also on another symbol', async () => {
    const ctx = await ex.fresh();
    ok(await place(ctx, limit({ side: Side.SELL, quantityLots: 4n }), 'bob'));
    const first = ok(await place(ctx, limit({ clientOrderId: 'c-1', timeInForce: TimeInForce.GTC })));
    const again = ok(await place(ctx, limit({ clientOrderId: 'c-1' }))); // GTC is the default: same content
    assert.deepEqual(again, first);
    const e = await refused(ctx, limit({ clientOrderId: 'c-1', priceTicks: 999n }), 'DUPLICATE_CLIENT_ORDER_ID');
    assert.equal(e.code, 6);
    await refused(ctx, limit({ clientOrderId: 'c-1', symbol: 'CCC', priceTicks: 100n }), 'DUPLICATE_CLIENT_ORDER_ID');
    // Another account may use the same id.
    ok(await place(ctx, limit({ clientOrderId: 'c-1', priceTicks: 999n }), 'carol'));
  });
  test('a refused order does not use up its client order id', async () => {
    const ctx = await ex.fresh();
    await refused(ctx, limit({ clientOrderId: 'c-2', priceTicks: 1300n }), 'PRICE_OUT_OF_BAND');
    ok(await place(ctx, limit({ clientOrderId: 'c-2', priceTicks: 1100n })));
  });
});

describe('PlaceOrders', () => {
  const batch = (ctx: WorkerContext, orders: Req[]) =>
    call(ctx, 'PlaceOrders', PlaceOrdersRequestSchema, { orders }, PlaceOrdersResponseSchema, 'alice');
  test('each order gets its own result, in order, later orders seeing earlier ones', async () => {
    const ctx = await ex.fresh();
    const r = ok(await batch(ctx, [
      limit({ side: Side.SELL, priceTicks: 1000n, quantityLots: 3n }),
      limit({ symbol: 'NOPE' }),
      limit({ priceTicks: 1000n, quantityLots: 3n, selfTradePrevention: SelfTradePrevention.CANCEL_OLDEST }),
    ]));
    assert.equal(r.results.length, 3);
    assert.equal(r.results[0]!.result.case, 'placed');
    const err = r.results[1]!.result;
    assert.ok(err.case === 'error');
    assert.deepEqual([err.value.code, err.value.reason], [3, 'UNKNOWN_SYMBOL']);
    assert.match(err.value.message, /^orders\[1\]\.symbol/);
    const third = r.results[2]!.result;
    assert.ok(third.case === 'placed');
    assert.equal(third.value.order!.status, OrderStatus.NEW); // its own resting sell was canceled by STP
  });
  test('the same client order id twice in one batch: the second is the first result', async () => {
    const ctx = await ex.fresh();
    const r = ok(await batch(ctx, [limit({ clientOrderId: 'same' }), limit({ clientOrderId: 'same' }), limit({ clientOrderId: 'same', quantityLots: 1n })]));
    const [a, b, c] = r.results.map((x) => x.result);
    assert.ok(a?.case === 'placed' && b?.case === 'placed' && c?.case === 'error');
    assert.equal(b.value.order!.orderId, a.value.order!.orderId);
    assert.equal(c.value.reason, 'DUPLICATE_CLIENT_ORDER_ID');
  });
  test('empty and over-limit batches', async () => {
    const ctx = await ex.fresh();
    const empty = await batch(ctx, []);
    assert.ok(empty instanceof ApiError && empty.reason === 'INVALID_FIELD');
    const big = await batch(ctx, [limit(), limit(), limit(), limit()]);
    assert.ok(big instanceof ApiError && big.reason === 'BATCH_TOO_LARGE', String(big));
  });
});
