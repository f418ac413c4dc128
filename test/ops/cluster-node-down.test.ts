/**
 * A Redis Cluster with one master gone (killed, no replica): the books on the other masters
 * keep trading through the whole stack, and a call for a book on the lost master answers
 * UNAVAILABLE / BACKEND_UNAVAILABLE (retryable) instead of hanging or INTERNAL.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { OrderService, PlaceOrderRequestSchema, PlaceOrderResponseSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderType, Side } from '../../src/gen/tierbook/v1/types_pb.js';
import { bookStateKey } from '../../src/domain/matching/keys.js';
import { expectError, TestClient } from '../support/grpc-client.js';
import { startTestCluster, type TestCluster } from '../support/redis-cluster.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let cluster: TestCluster;
let stack: TestStack;
let client: TestClient;

before(async () => {
  cluster = await startTestCluster();
  const url = `redis-cluster://${cluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  // No rate limit: its bucket key would live on one of the masters too.
  stack = await startTestStack({ redisUrl: url, env: { TIERBOOK_RATE_LIMIT_PRO: '0' } });
  const acct = await stack.createAccount('PRO', 'node-down');
  client = new TestClient(stack.target, acct.apiKey);
});
after(async () => {
  client?.close();
  await stack?.stop();
  await cluster?.stop();
});

const place = (symbol: string, priceTicks: bigint) => client.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, {
  symbol, side: Side.BUY, type: OrderType.LIMIT, priceTicks, quantityLots: 1n,
}, 15_000);

test('one master lost: the other masters\' books keep trading, its books answer UNAVAILABLE', { timeout: 90_000 }, async () => {
  const c = cluster.client();
  await c.ping();
  const owner = async (symbol: string) => c.slots[Number(await c.cluster('KEYSLOT', bookStateKey(symbol)))]?.[0];
  const books: Record<string, bigint> = { AAPL: 1_900_000n, MSFT: 4_200_000n };
  const [aapl, msft] = [await owner('AAPL'), await owner('MSFT')];
  assert.notEqual(aapl, msft, 'the two books live on different masters');
  for (const [s, px] of Object.entries(books)) assert.ok((await place(s, px)).order?.orderId, `${s} trades before`);

  // Kill the master of AAPL (and only it).
  const lost = cluster.nodes.find((n) => `127.0.0.1:${n.port}` === aapl)!;
  await lost.stop();
  const err = await expectError(place('AAPL', books.AAPL!));
  assert.equal(err.code, status.UNAVAILABLE, `${err.code} ${err.reason} ${err.message}`);
  assert.equal(err.reason, 'BACKEND_UNAVAILABLE');
  const other = await place('MSFT', books.MSFT!);
  assert.ok(other.order?.orderId, 'MSFT trades on');
});
