import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestStack, type TestAccount, type TestStack } from '../support/stack.js';
import { pino } from 'pino';
import { GetOrderRequestSchema, GetOrderResponseSchema, OrderService } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { startSyncThread } from '../../src/sync/index.js';
import { TestClient } from '../support/grpc-client.js';
import { run, tool } from '../support/tools.js';

/**
 * grpcurl and ghz, as a person would use them: through nginx, with no .proto files, relying
 * on server reflection.
 */
describe('grpcurl and ghz via reflection', () => {
  let stack: TestStack;
  let acct: TestAccount;

  before(async () => {
    stack = await startTestStack();
    acct = await stack.createAccount('PRO');
  });
  after(async () => stack?.stop());

  test('reflection lists both API services and health', async () => {
    const r = await run(tool('grpcurl'), ['-plaintext', stack.target, 'list']);
    assert.equal(r.code, 0, r.stderr);
    const services = r.stdout.trim().split('\n');
    for (const s of ['tierbook.v1.OrderService', 'tierbook.v1.AnalyticsService', 'grpc.health.v1.Health']) {
      assert.ok(services.includes(s), `${s} in ${services.join(', ')}`);
    }
  });

  test('grpcurl places an order and reads it back', async () => {
    const auth = `authorization: Bearer ${acct.apiKey}`;
    const place = await run(tool('grpcurl'), [
      '-plaintext', '-H', auth,
      '-d', JSON.stringify({ symbol: 'AAPL', side: 'SIDE_BUY', type: 'ORDER_TYPE_LIMIT', price_ticks: '1890000', quantity_lots: '5', client_order_id: 'grpcurl-1' }),
      stack.target, 'tierbook.v1.OrderService/PlaceOrder',
    ]);
    assert.equal(place.code, 0, place.stderr);
    const placed = JSON.parse(place.stdout) as { order: { orderId: string; status: string } };
    assert.equal(placed.order.status, 'ORDER_STATUS_NEW');
    const get = await run(tool('grpcurl'), ['-plaintext', '-H', auth, '-d', JSON.stringify({ order_id: placed.order.orderId }), stack.target, 'tierbook.v1.OrderService/GetOrder']);
    assert.equal(get.code, 0, get.stderr);
    const got = JSON.parse(get.stdout) as { order: { orderId: string; quantityLots: string } };
    assert.equal(got.order.orderId, placed.order.orderId);
    assert.equal(got.order.quantityLots, '5');
  });

  test('a short ghz run of PlaceOrder through nginx has no errors', async () => {
    const r = await run(tool('ghz'), [
      '--insecure', '--call', 'tierbook.v1.OrderService/PlaceOrder',
      '--metadata', JSON.stringify({ authorization: `Bearer ${acct.apiKey}` }),
      '--data', JSON.stringify({ symbol: 'AAPL', side: 'SIDE_SELL', type: 'ORDER_TYPE_LIMIT', price_ticks: '2050000', quantity_lots: '1', client_order_id: 'ghz-{{.RequestNumber}}' }),
      '-n', '300', '-c', '10', '--connections', '2', '--format', 'json', stack.target,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { count: number; statusCodeDistribution: Record<string, number> };
    assert.equal(report.count, 300);
    assert.deepEqual(report.statusCodeDistribution, { OK: 300 });
    // Every acknowledged order exists: the first and the last one of the run, by grpcurl...
    for (const coid of ['ghz-0', 'ghz-299']) {
      const get = await run(tool('grpcurl'), ['-plaintext', '-H', `authorization: Bearer ${acct.apiKey}`, '-d', JSON.stringify({ client_order_id: coid }), stack.target, 'tierbook.v1.OrderService/GetOrder']);
      assert.equal(get.code, 0, `${coid}: ${get.stderr}`);
      assert.equal((JSON.parse(get.stdout) as { order: { clientOrderId: string } }).order.clientOrderId, coid);
    }
    // ...and all 300, each once, through the API (Redis)...
    const client = new TestClient(stack.target, acct.apiKey);
    const ids = new Map<string, string>();
    try {
      for (let i = 0; i < 300; i += 50) {
        await Promise.all(Array.from({ length: 50 }, async (_, j) => {
          const coid = `ghz-${i + j}`;
          const got = await client.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, { clientOrderId: coid });
          ids.set(coid, got.order!.orderId);
        }));
      }
    } finally {
      client.close();
    }
    assert.equal(new Set(ids.values()).size, 300, 'one order per request');
    // ...and in Postgres, once the sync has written them.
    const sync = await startSyncThread(stack.config, pino({ level: 'silent' }));
    try {
      const deadline = Date.now() + 30_000;
      let rows: { client_order_id: string; order_id: string }[] = [];
      while (Date.now() < deadline) {
        rows = await stack.sql<{ client_order_id: string; order_id: string }[]>`SELECT client_order_id, order_id FROM orders WHERE account_id = ${acct.accountId} AND client_order_id LIKE 'ghz-%'`;
        if (rows.length >= 300) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(new Map(rows.map((r) => [r.client_order_id, r.order_id])), ids);
    } finally {
      await sync.stop();
    }
  });
});
