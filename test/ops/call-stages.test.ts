/**
 * Where a call's time goes: every call that ran on a worker thread is split into stages
 * (admission, pool wait, decode/logic/encode, Redis, reply) in
 * `tierbook_call_stage_seconds{tier, stage}`, and the load-test report turns two scrapes of it
 * into a p50 / p99 table per stage.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { OrderService, PlaceOrderRequestSchema, PlaceOrderResponseSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderType, Side } from '../../src/gen/tierbook/v1/types_pb.js';
import { AggregatorRegistry } from 'prom-client';
import { mergeJson } from '../../src/server/metrics/merge-json.js';
import { STAGES } from '../../src/server/metrics/call-stages.js';
import { stageRows } from '../../loadtest/stage-table.js';
import { TestClient } from '../support/grpc-client.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
before(async () => {
  stack = await startTestStack({ withoutNginx: true });
});
after(async () => stack?.stop());

/** The gateway's /metrics text (its own series and its threads'). */
async function scrape(): Promise<string> {
  const merged = mergeJson(await stack.gateway.metrics.snapshot());
  return AggregatorRegistry.aggregate([merged]).metrics();
}

test('each call that ran on a thread is split into stages that add up to its total', async () => {
  const acct = await stack.createAccount('ELITE');
  const c = new TestClient(stack.gatewayTarget, acct.apiKey);
  try {
    const before = await scrape();
    for (let i = 0; i < 20; i++) {
      await c.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema,
        { symbol: 'AAPL', side: Side.BUY, type: OrderType.LIMIT, priceTicks: 1_900_000n, quantityLots: 1n, clientOrderId: `stage-${i}` });
    }
    const text = await scrape();
    const rows = stageRows(before, text).filter((r) => r.tier === 'ELITE');
    assert.deepEqual(rows.map((r) => r.stage), [...STAGES], 'every stage, in the order a call passes them');
    for (const r of rows) assert.equal(r.calls, 20, `${r.stage}: one observation per call`);
    const sum = (stage: string) => Number(new RegExp(`tierbook_call_stage_seconds_sum\\{[^}]*tier="ELITE"[^}]*stage="${stage}"[^}]*\\}\\s+(\\S+)`).exec(text)?.[1]
      ?? new RegExp(`tierbook_call_stage_seconds_sum\\{[^}]*stage="${stage}"[^}]*tier="ELITE"[^}]*\\}\\s+(\\S+)`).exec(text)?.[1]);
    const parts = STAGES.filter((s) => s !== 'total').reduce((n, s) => n + sum(s), 0);
    const total = sum('total');
    assert.ok(parts <= total * 1.001 && parts >= total * 0.8, `stages add up to the total: ${(parts * 1000).toFixed(2)} of ${(total * 1000).toFixed(2)} ms`);
    assert.ok(sum('redis') > 0, 'the place script\'s Redis time is attributed to the calls');
  } finally {
    c.close();
  }
});

test('the report table: quantiles from bucket differences between two scrapes', () => {
  const h = (counts: number[], sum: number) => [0.001, 0.005, Infinity].map((le, i) =>
    `tierbook_call_stage_seconds_bucket{le="${le === Infinity ? '+Inf' : le}",tier="PRO",stage="redis"} ${counts[i]}`).join('\n') +
    `\ntierbook_call_stage_seconds_sum{tier="PRO",stage="redis"} ${sum}\ntierbook_call_stage_seconds_count{tier="PRO",stage="redis"} ${counts[2]}\n`;
  // Before: 10 calls under 1 ms. After: 90 more under 1 ms and 10 between 1 and 5 ms.
  const [row] = stageRows(h([10, 10, 10], 0.005), h([100, 110, 110], 0.005 + 0.045 + 0.03));
  assert.equal(row!.calls, 100);
  assert.ok(Math.abs(row!.p50Ms - 0.5 / 0.9) < 1e-9, `p50 interpolated in the first bucket: ${row!.p50Ms}`);
  assert.ok(row!.p99Ms > 1 && row!.p99Ms < 5, `p99 in the second bucket: ${row!.p99Ms}`);
  assert.ok(Math.abs(row!.meanMs - 0.75) < 1e-9);
});
