/**
 * Issue 13, bug 1: every state of an order a client can observe (StreamExecutions, the
 * PlaceOrder reply, GetOrder, Postgres) carries a version strictly larger than the state
 * before it, and the last stream message of an order is its final state. Through nginx.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CancelOrderRequestSchema, CancelOrderResponseSchema, ExecutionType, GetOrderRequestSchema, GetOrderResponseSchema,
  OrderService, type StreamExecutionsResponse,
} from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderStatus, Side, TimeInForce, type Order } from '../../src/gen/tierbook/v1/types_pb.js';
import type { TestClient } from '../support/grpc-client.js';
import { eventually, place, startApiStack, subscribe, type ApiStack, type Subscription } from './support.js';

let api: ApiStack;
let maker: TestClient;
let taker: TestClient;
let stream: Subscription;

before(async () => {
  api = await startApiStack({ sync: true });
  ({ client: maker } = await api.client('PRO'));
  ({ client: taker } = await api.client('ELITE'));
  stream = subscribe(taker);
  await stream.headers;
});
after(async () => {
  stream?.cancel();
  await api?.stop();
});

const getOrder = (orderId: string) =>
  taker.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, { orderId });
const view = (o: Order | undefined) => `${OrderStatus[o!.status]} filled=${o!.filledLots} v${o!.version}`;
const row = async (orderId: string) => {
  const r = await api.stack.sql`SELECT status, filled::text AS filled, ver::text AS ver FROM orders WHERE order_id = ${orderId}`;
  return r[0] ? `${r[0].status} filled=${r[0].filled} v${r[0].ver}` : 'absent';
};

/** The taker's stream messages for one order, once `count` of them arrived. */
async function messagesOf(orderId: string, count: number): Promise<StreamExecutionsResponse[]> {
  return eventually(`${count} stream messages of ${orderId}`, () => stream.messages.filter((m) => m.order?.orderId === orderId), (ms) => ms.length >= count);
}

/** The contract, for one order: versions only grow, and every other view ends where the stream ends. */
async function assertContract(orderId: string, replyOrder: Order, expected: string[]): Promise<void> {
  const msgs = await messagesOf(orderId, expected.length);
  assert.deepEqual(msgs.map((m) => `${ExecutionType[m.type]} ${view(m.order)}`), expected);
  for (let i = 1; i < msgs.length; i++) assert.ok(msgs[i]!.order!.version > msgs[i - 1]!.order!.version, `message ${i} has a larger version`);
  const final = view(msgs[msgs.length - 1]!.order);
  assert.equal(view(replyOrder), final, 'the reply is the final state');
  assert.equal(view((await getOrder(orderId)).order), final, 'GetOrder is the final state');
  await eventually(`${orderId} in Postgres`, () => row(orderId), (r) => r === final);
}

test('an IOC sweeping two makers: one larger version per fill, and the stream ends FILLED', async () => {
  await place(maker, { side: Side.SELL, priceTicks: 1000n, quantityLots: 10n });
  await place(maker, { side: Side.SELL, priceTicks: 1001n, quantityLots: 10n });
  const r = await place(taker, { side: Side.BUY, priceTicks: 1001n, quantityLots: 20n, timeInForce: TimeInForce.IOC });
  assert.equal(r.fills.length, 2);
  await assertContract(r.order!.orderId, r.order!, [
    'ACCEPTED NEW filled=0 v1',
    'FILL PARTIALLY_FILLED filled=10 v2',
    'FILL FILLED filled=20 v3',
  ]);
});

test('an IOC that fills part and expires the rest ends EXPIRED with the next version', async () => {
  await place(maker, { side: Side.SELL, priceTicks: 1000n, quantityLots: 10n });
  const r = await place(taker, { side: Side.BUY, priceTicks: 1000n, quantityLots: 15n, timeInForce: TimeInForce.IOC });
  await assertContract(r.order!.orderId, r.order!, [
    'ACCEPTED NEW filled=0 v1',
    'FILL PARTIALLY_FILLED filled=10 v2',
    'EXPIRED EXPIRED filled=10 v3',
  ]);
});

test('a GTC that fills part rests at its last fill\'s version; a cancel takes the next one', async () => {
  await place(maker, { side: Side.SELL, priceTicks: 1000n, quantityLots: 4n });
  const r = await place(taker, { side: Side.BUY, priceTicks: 1000n, quantityLots: 10n });
  await assertContract(r.order!.orderId, r.order!, [
    'ACCEPTED NEW filled=0 v1',
    'FILL PARTIALLY_FILLED filled=4 v2',
  ]);
  const c = await taker.unary(OrderService, 'CancelOrder', CancelOrderRequestSchema, CancelOrderResponseSchema, { orderId: r.order!.orderId });
  await assertContract(r.order!.orderId, c.order!, [
    'ACCEPTED NEW filled=0 v1',
    'FILL PARTIALLY_FILLED filled=4 v2',
    'CANCELED CANCELED filled=4 v3',
  ]);
});
