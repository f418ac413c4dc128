/**
 * Redis gone: every call answers UNAVAILABLE / BACKEND_UNAVAILABLE promptly (not after the
 * client's deadline, and not through ioredis' growing reconnect delays), authentication falls
 * back to Postgres, and the rate limiter fails open instead of waiting.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { OrderService, PlaceOrderRequestSchema, PlaceOrderResponseSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderType, Side } from '../../src/gen/tierbook/v1/types_pb.js';
import { AnalyticsService, GetPortfolioRequestSchema, GetPortfolioResponseSchema } from '../../src/gen/tierbook/v1/analytics_service_pb.js';
import { expectError, TestClient } from '../support/grpc-client.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
before(async () => {
  // Rate limits on, so the limiter is on every call's path.
  stack = await startTestStack({ withoutNginx: true, env: { TIERBOOK_RATE_LIMIT_ELITE: '1000' } });
});
after(async () => stack?.stop().catch(() => {}));

const order = { symbol: 'AAPL', side: Side.BUY, type: OrderType.LIMIT, priceTicks: 1_900_000n, quantityLots: 1n };

test('with Redis gone, calls get UNAVAILABLE well before their deadline, one after another', async () => {
  const used = await stack.createAccount('ELITE');
  const fresh = await stack.createAccount('ELITE'); // its key is in no process cache yet
  const a = new TestClient(stack.gatewayTarget, used.apiKey);
  const b = new TestClient(stack.gatewayTarget, fresh.apiKey);
  try {
    await a.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, order);
    await stack.redis.call('SHUTDOWN', 'NOSAVE').catch(() => {});
    // Each call has 5 s; ioredis' reconnect back-off would make later calls wait ever longer.
    for (let i = 0; i < 5; i++) {
      for (const c of [a, b]) {
        const e = await expectError(c.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, { ...order, clientOrderId: `down-${i}` }, 5_000));
        assert.deepEqual([e.code, e.reason], [14, 'BACKEND_UNAVAILABLE'], `call ${i}: ${e.message}`);
        assert.match(e.message, /retry/);
      }
      const p = await expectError(a.unary(AnalyticsService, 'GetPortfolio', GetPortfolioRequestSchema, GetPortfolioResponseSchema, {}, 5_000));
      assert.deepEqual([p.code, p.reason], [14, 'BACKEND_UNAVAILABLE'], `analytics, call ${i}: ${p.message}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    a.close();
    b.close();
  }
});
