/**
 * Admission: a full tier queue answers RESOURCE_EXHAUSTED at once, premium never waits behind
 * shared work, and a call whose deadline has passed or whose client cancelled is not run.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { toBinary, create } from '@bufbuild/protobuf';
import { startTestStack, type TestStack } from '../support/stack.js';
import { PlaceOrderRequestSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderClient, restingBuy, runAll, tally } from './support.js';
import { grpcFrame, rawCall, rawSession } from './raw-h2.js';

const PLACE = '/tierbook.v1.OrderService/PlaceOrder';

/** A slow call for flooding: one PlaceOrders of many resting orders. */
function batch(n: number) {
  return Array.from({ length: n }, () => restingBuy());
}

describe('admission', () => {
  let stack: TestStack;
  let shared: OrderClient;
  let premium: OrderClient;
  let sharedKey: string;

  before(async () => {
    stack = await startTestStack({
      withoutNginx: true,
      env: {
        // One shared thread running two calls, with room for four more: easy to overflow.
        TIERBOOK_SHARED_CONCURRENCY: '2',
        TIERBOOK_SHARED_QUEUE: '4',
        TIERBOOK_PREMIUM_CONCURRENCY: '4',
        TIERBOOK_PREMIUM_QUEUE: '1000',
        // Rate limits are tested elsewhere; here they would hide the queue bound.
        TIERBOOK_RATE_LIMIT_LITE: '0',
        TIERBOOK_RATE_LIMIT_ELITE: '0',
      },
    });
    const lite = await stack.createAccount('LITE');
    const elite = await stack.createAccount('ELITE');
    sharedKey = lite.apiKey;
    shared = OrderClient.of(stack.gatewayTarget, lite.apiKey);
    premium = OrderClient.of(stack.gatewayTarget, elite.apiKey);
  });

  after(async () => {
    shared?.close();
    premium?.close();
    await stack?.stop();
  });

  it('refuses calls over the queue bound at once with TIER_QUEUE_FULL and a retry delay', async () => {
    const outcomes = await runAll(Array.from({ length: 60 }, () => () => shared.placeMany(batch(50))));
    const counts = tally(outcomes);
    const refused = outcomes.filter((o) => !o.ok);
    assert.ok(refused.length > 0, `expected some calls refused, got ${JSON.stringify(counts)}`);
    assert.ok(outcomes.some((o) => o.ok), `expected the calls within the bound to succeed, got ${JSON.stringify(counts)}`);
    for (const r of refused) {
      assert.equal(r.error!.code, 8, JSON.stringify(counts));
      assert.equal(r.error!.reason, 'TIER_QUEUE_FULL');
      assert.ok(Number(r.error!.metadata.retry_delay_ms) > 0, 'retry_delay_ms must be set');
    }
    // "At once": every refusal arrives before the accepted work has finished.
    const lastOk = Math.max(...outcomes.filter((o) => o.ok).map((o) => o.ms));
    const slowestRefusal = Math.max(...refused.map((o) => o.ms));
    assert.ok(slowestRefusal < lastOk, `refusals must not wait for the queue (${slowestRefusal} ms vs ${lastOk} ms)`);
  });

  it('serves every premium call while the shared pool overflows', async () => {
    const flood = runAll(Array.from({ length: 80 }, () => () => shared.placeMany(batch(50))));
    const premiumCalls = runAll(Array.from({ length: 40 }, () => () => premium.place(restingBuy())));
    const [s, p] = await Promise.all([flood, premiumCalls]);
    assert.deepEqual(tally(p), { OK: 40 }, 'premium calls must all succeed');
    assert.ok((tally(s)['8/TIER_QUEUE_FULL'] ?? 0) > 0, `shared must overflow: ${JSON.stringify(tally(s))}`);
  });

  it('does not run a call whose deadline is already over', async () => {
    const session = rawSession(stack.gatewayTarget);
    try {
      const req = restingBuy();
      const body = grpcFrame(toBinary(PlaceOrderRequestSchema, create(PlaceOrderRequestSchema, req)));
      // 1 ns: the deadline is over the moment the gateway reads it.
      const reply = await rawCall(session, PLACE, body, { authorization: `Bearer ${sharedKey}`, 'grpc-timeout': '1n' });
      assert.equal(reply.grpcStatus, 4, `expected DEADLINE_EXCEEDED, got ${reply.grpcStatus} ${reply.grpcMessage}`);
      await new Promise((r) => setTimeout(r, 200));
      const e = await shared.getByClientId(req.clientOrderId!).then(() => undefined, (err) => err);
      assert.ok(e, 'the order must not exist');
      assert.equal(e.code, 5);
    } finally {
      session.close();
    }
  });

  it('does not run a queued call whose client cancelled', async () => {
    // Fill the premium pool's four slots and its queue with slow batches, then cancel a
    // PlaceOrder that must be waiting behind them.
    const floodCalls = Array.from({ length: 40 }, () => premium.placeMany(batch(100)));
    const flood = runAll(floodCalls.map((p) => () => p));
    // Once the first batch is done the other 39 are at the gateway: the pool has seconds of
    // backlog (4 slots, ~100 ms per batch), so the next call waits in the queue.
    await Promise.race(floodCalls.map((p) => p.catch(() => undefined)));
    const req = restingBuy();
    const call = premium.client.raw.makeUnaryRequest<Buffer, Buffer>(
      PLACE, (b) => b, (b) => b,
      Buffer.from(toBinary(PlaceOrderRequestSchema, create(PlaceOrderRequestSchema, req))),
      premium.client.metadata(), { deadline: Date.now() + 30_000 }, () => {},
    );
    await new Promise((r) => setTimeout(r, 5));
    call.cancel();
    const counts = tally(await flood);
    assert.deepEqual(counts, { OK: 40 }, 'cancelling one call must not fail the others');
    const e = await premium.getByClientId(req.clientOrderId!).then(() => undefined, (err) => err);
    assert.ok(e, 'the cancelled order must not exist');
    assert.equal(e.code, 5);
  });
});
