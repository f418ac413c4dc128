/**
 * Issue 13, items 4, 7 and 9: every refusal of an order request, whether the static checks
 * or a book script in Redis raise it, carries ErrorInfo metadata of one shape (`field` and
 * the bound or limit crossed) and the one wording of its reason, built from that metadata.
 * One test walks the whole catalogue (src/domain/refusals.ts) through nginx. A refused amend
 * leaves the order as it was; a PlaceOrders item carries the same metadata.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { Reasons } from '../../src/domain/errors.js';
import { REFUSALS, type RefusalReason } from '../../src/domain/refusals.js';
import {
  AnalyticsService, GetOrderBookRequestSchema, GetOrderBookResponseSchema,
} from '../../src/gen/tierbook/v1/analytics_service_pb.js';
import {
  AmendOrderRequestSchema, AmendOrderResponseSchema, CancelOrderRequestSchema, CancelOrderResponseSchema,
  GetOrderRequestSchema, GetOrderResponseSchema, OrderService, PlaceOrderRequestSchema, PlaceOrdersRequestSchema,
  PlaceOrdersResponseSchema,
} from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderStatus, OrderType, Side, TimeInForce } from '../../src/gen/tierbook/v1/types_pb.js';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { expectError, type CallError, type TestClient } from '../support/grpc-client.js';
import { place, startApiStack, type ApiStack } from './support.js';

let api: ApiStack;
let alice: TestClient;
let bob: TestClient;

before(async () => {
  api = await startApiStack();
  ({ client: alice } = await api.client('PRO'));
  ({ client: bob } = await api.client('ELITE'));
});
after(async () => api?.stop());

const amend = (c: TestClient, r: MessageInitShape<typeof AmendOrderRequestSchema>) =>
  c.unary(OrderService, 'AmendOrder', AmendOrderRequestSchema, AmendOrderResponseSchema, r);
const cancel = (c: TestClient, r: MessageInitShape<typeof CancelOrderRequestSchema>) =>
  c.unary(OrderService, 'CancelOrder', CancelOrderRequestSchema, CancelOrderResponseSchema, r);
const getOrder = (c: TestClient, r: MessageInitShape<typeof GetOrderRequestSchema>) =>
  c.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, r);

/** The contract of one refusal: code, reason, metadata shape and the reason's one wording. */
function assertRefusal(err: CallError, reason: RefusalReason, facts: Record<string, string>): void {
  const spec = REFUSALS[reason];
  assert.equal(err.reason, reason);
  assert.equal(err.code, Reasons[reason], `${reason}'s code`);
  for (const k of ['field', ...spec.facts]) assert.ok(err.metadata[k] !== undefined && err.metadata[k] !== '', `${reason} has metadata ${k}: ${JSON.stringify(err.metadata)}`);
  for (const [k, v] of Object.entries(facts)) assert.equal(err.metadata[k], v, `${reason} metadata ${k}`);
  assert.equal(err.message, spec.text(err.metadata), `${reason} says it in its one wording`);
}

test('every refusal in the catalogue carries its facts as metadata and its one wording', async () => {
  const seen = new Set<string>();
  const check = async (p: Promise<unknown>, reason: RefusalReason, facts: Record<string, string>) => {
    assertRefusal(await expectError(p), reason, facts);
    seen.add(reason);
  };
  await check(place(alice, { symbol: 'ZZZ', priceTicks: 1000n, quantityLots: 1n }), 'UNKNOWN_SYMBOL', { field: 'symbol', symbol: 'ZZZ' });
  await place(alice, { priceTicks: 900n, quantityLots: 1n, clientOrderId: 'dup-1' });
  await check(place(alice, { priceTicks: 900n, quantityLots: 2n, clientOrderId: 'dup-1' }), 'DUPLICATE_CLIENT_ORDER_ID', { field: 'client_order_id' });
  // Static size check (before the book) and the amend script's "above the filled quantity".
  await check(place(alice, { priceTicks: 900n, quantityLots: 2000n }), 'QUANTITY_OUT_OF_RANGE',
    { field: 'quantity_lots', quantity_lots: '2000', min_quantity_lots: '1', max_quantity_lots: '1000' });
  await place(bob, { side: Side.SELL, priceTicks: 1000n, quantityLots: 4n });
  const part = await place(alice, { priceTicks: 1000n, quantityLots: 10n });
  await check(amend(alice, { orderId: part.order!.orderId, newQuantityLots: 4n }), 'QUANTITY_OUT_OF_RANGE',
    { field: 'new_quantity_lots', quantity_lots: '4', min_quantity_lots: '5', max_quantity_lots: '1000', filled_lots: '4' });
  // The band is 20% around the last trade, 1000: 800..1200.
  const band = { band_low_ticks: '800', band_high_ticks: '1200', reference_price_ticks: '1000' };
  await check(place(alice, { priceTicks: 1300n, quantityLots: 1n }), 'PRICE_OUT_OF_BAND', { field: 'price_ticks', price_ticks: '1300', ...band });
  await check(amend(alice, { orderId: part.order!.orderId, newPriceTicks: 700n }), 'PRICE_OUT_OF_BAND', { field: 'new_price_ticks', price_ticks: '700', ...band });
  // Notional limit 500000: a limit order at its price, a market order at the band edge.
  await check(place(alice, { priceTicks: 1000n, quantityLots: 600n }), 'NOTIONAL_LIMIT_EXCEEDED',
    { field: 'quantity_lots', price_ticks: '1000', quantity_lots: '600', notional_ticks: '600000', max_notional_ticks: '500000' });
  await check(place(alice, { type: OrderType.MARKET, timeInForce: TimeInForce.IOC, quantityLots: 500n }), 'NOTIONAL_LIMIT_EXCEEDED',
    { field: 'quantity_lots', price_ticks: '1200', notional_ticks: '600000' });
  // CCC's position limit is 150 lots, counting working orders.
  await place(alice, { symbol: 'CCC', priceTicks: 100n, quantityLots: 100n });
  await check(place(alice, { symbol: 'CCC', priceTicks: 100n, quantityLots: 60n }), 'POSITION_LIMIT_EXCEEDED',
    { field: 'quantity_lots', position_lots: '0', worst_position_lots: '160', position_limit_lots: '150' });
  // Not found by either id, in the book script and before it.
  await check(cancel(alice, { orderId: 'AAA:999999' }), 'ORDER_NOT_FOUND', { field: 'order_id' });
  await check(getOrder(alice, { clientOrderId: 'never-used' }), 'ORDER_NOT_FOUND', { field: 'client_order_id' });
  await check(cancel(bob, { orderId: part.order!.orderId }), 'ORDER_NOT_FOUND', { field: 'order_id' }); // another account's
  const done = await place(alice, { priceTicks: 850n, quantityLots: 1n, clientOrderId: 'to-cancel' });
  await cancel(alice, { clientOrderId: 'to-cancel' });
  await check(cancel(alice, { clientOrderId: 'to-cancel' }), 'ORDER_NOT_WORKING',
    { field: 'client_order_id', order_id: done.order!.orderId, status: 'CANCELED', action: 'canceled' });
  // A post-only bid amended up through the best ask.
  await place(bob, { side: Side.SELL, priceTicks: 1100n, quantityLots: 1n });
  const post = await place(alice, { priceTicks: 1050n, quantityLots: 1n, postOnly: true });
  await check(amend(alice, { orderId: post.order!.orderId, newPriceTicks: 1150n }), 'POST_ONLY_WOULD_TAKE',
    { field: 'new_price_ticks', price_ticks: '1150', best_price_ticks: '1100' });
  assert.deepEqual([...seen].sort(), Object.keys(REFUSALS).sort(), 'the whole catalogue was exercised');
});

test('a refused amend leaves the order exactly as it was (it is never REJECTED)', async () => {
  await place(bob, { side: Side.SELL, priceTicks: 1110n, quantityLots: 1n });
  const post = await place(alice, { priceTicks: 1040n, quantityLots: 3n, postOnly: true });
  const before = (await getOrder(alice, { orderId: post.order!.orderId })).order!;
  await expectError(amend(alice, { orderId: post.order!.orderId, newPriceTicks: 1120n }));
  await expectError(amend(alice, { orderId: post.order!.orderId, newQuantityLots: 5000n }));
  assert.deepEqual((await getOrder(alice, { orderId: post.order!.orderId })).order, before);
  assert.equal(before.status, OrderStatus.NEW);
});

test('new_quantity_lots equal to the filled quantity is refused, not a cancel of the rest', async () => {
  // BBB trades in lots of 10: the smallest amend is one lot above the filled 20.
  await place(bob, { symbol: 'BBB', side: Side.SELL, priceTicks: 1000n, quantityLots: 20n });
  const part = await place(alice, { symbol: 'BBB', priceTicks: 1000n, quantityLots: 60n });
  assert.equal(part.order!.filledLots, 20n);
  const err = await expectError(amend(alice, { orderId: part.order!.orderId, newQuantityLots: 20n }));
  assertRefusal(err, 'QUANTITY_OUT_OF_RANGE', { min_quantity_lots: '30', filled_lots: '20' });
  const now = (await getOrder(alice, { orderId: part.order!.orderId })).order!;
  assert.deepEqual([now.status, now.remainingLots], [OrderStatus.PARTIALLY_FILLED, 40n]);
});

test('a PlaceOrders item carries the same code, reason, wording and metadata as PlaceOrder', async () => {
  const req = create(PlaceOrderRequestSchema, { symbol: 'AAA', side: Side.BUY, type: OrderType.LIMIT, priceTicks: 1300n, quantityLots: 1n });
  const single = await expectError(alice.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrdersResponseSchema, req));
  const batch = await alice.unary(OrderService, 'PlaceOrders', PlaceOrdersRequestSchema, PlaceOrdersResponseSchema, { orders: [req] });
  const item = batch.results[0]!.result;
  assert.equal(item.case, 'error');
  assert.deepEqual({ code: item.value.code, reason: item.value.reason, message: item.value.message, metadata: item.value.metadata },
    { code: single.code, reason: single.reason, message: `orders[0].${single.message}`, metadata: single.metadata });
});

test('GetOrderBook without a symbol says the field is required', async () => {
  const err = await expectError(alice.unary(AnalyticsService, 'GetOrderBook', GetOrderBookRequestSchema, GetOrderBookResponseSchema, {}));
  assert.deepEqual([err.code, err.reason, err.metadata.field, err.message], [status.INVALID_ARGUMENT, 'INVALID_FIELD', 'symbol', 'symbol: is required']);
});
