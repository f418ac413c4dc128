/**
 * A call is answered when its own work is done, not when the slowest call that travelled to
 * the worker thread with it is (src/server/batch-dispatch.ts, src/workers/early-results.ts).
 * Calls that reach a gateway in one turn of its event loop go to a thread as one batch; here a
 * GetPortfolio that waits on a locked Postgres table shares the batch with quick GetOrders of
 * the same account, which must not wait for it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AnalyticsService, GetPortfolioRequestSchema, GetPortfolioResponseSchema } from '../../src/gen/tierbook/v1/analytics_service_pb.js';
import { callError, TestClient } from '../support/grpc-client.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { OrderClient } from '../protection/support.js';

const SLOW_MS = 400;

let stack: TestStack;
let orders: OrderClient;
let analytics: TestClient;
before(async () => {
  // The slow call: a shared-tier query past its statement timeout, which the server cancels.
  stack = await startTestStack({ withoutNginx: true, env: { TIERBOOK_PG_TIMEOUT_MS_PRO: String(SLOW_MS) } });
  const pro = await stack.createAccount('PRO');
  // One client, one HTTP/2 connection: calls sent together arrive together.
  analytics = new TestClient(stack.gatewayTarget, pro.apiKey);
  orders = new OrderClient(analytics);
  await orders.getByClientId('warm-up').catch(() => {}); // the key is cached from here on
});
after(async () => {
  analytics?.close();
  await stack?.stop();
});

test('quick calls sent with a slow one are answered before it, with their own results', async () => {
  for (let round = 1; round <= 3; round++) {
    await stack.sql.begin(async (tx) => {
      await tx`LOCK TABLE positions IN ACCESS EXCLUSIVE MODE`;
      const t0 = performance.now();
      const at = (p: Promise<unknown>) => p.then(() => performance.now() - t0, (err: unknown) => ({ ms: performance.now() - t0, err: callError(err) }));
      const slow = at(analytics.unary(AnalyticsService, 'GetPortfolio', GetPortfolioRequestSchema, GetPortfolioResponseSchema, {}));
      const quick = Array.from({ length: 6 }, (_, i) => at(orders.getByClientId(`none-${round}-${i}`)));
      const slowDone = (await slow) as { ms: number; err: { code: number; reason?: string } };
      const quickDone = (await Promise.all(quick)) as { ms: number; err: { code: number; reason?: string } }[];
      assert.deepEqual([slowDone.err.code, slowDone.err.reason], [4, 'QUERY_TIMEOUT'], 'the slow call ran into its statement timeout');
      assert.ok(slowDone.ms >= SLOW_MS, `the slow call took its ${SLOW_MS} ms: ${slowDone.ms.toFixed(0)} ms`);
      for (const q of quickDone) {
        assert.deepEqual([q.err.code, q.err.reason], [5, 'ORDER_NOT_FOUND'], 'each quick call has its own answer');
        assert.ok(q.ms < slowDone.ms - SLOW_MS / 2, `round ${round}: a quick call answered after ${q.ms.toFixed(0)} ms, the slow one after ${slowDone.ms.toFixed(0)} ms`);
      }
    });
  }
});
