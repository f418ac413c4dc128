/**
 * Admission: a full tier queue answers RESOURCE_EXHAUSTED at once, premium never waits behind
 * shared work, and a call whose deadline has passed or whose client cancelled is not run.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { toBinary, create } from '@bufbuild/protobuf';
import { startTestStack, type TestStack } from '../support/stack.js';
import { PlaceOrderRequestSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import type { ClientUnaryCall } from '@grpc/grpc-js';
import { OrderClient, restingBuy, runAll, tally, type PlaceInit } from './support.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { LEASE_MS } from '../../src/server/rate-limiter.js';
import { grpcFrame, rawCall, rawSession } from './raw-h2.js';
import { metricValue, rpcCount } from '../support/rpc-count.js';

const PLACE = '/tierbook.v1.OrderService/PlaceOrder';

async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await cond()) return;
    await sleep(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}

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

  it('serves every premium call while the shared pool overflows, within the premium deadline', async () => {
    const flood = runAll(Array.from({ length: 80 }, () => () => shared.placeMany(batch(50))));
    const premiumCalls = runAll(Array.from({ length: 40 }, () => () => premium.place(restingBuy())));
    const [s, p] = await Promise.all([flood, premiumCalls]);
    assert.deepEqual(tally(p), { OK: 40 }, 'premium calls must all succeed');
    assert.ok((tally(s)['8/TIER_QUEUE_FULL'] ?? 0) > 0, `shared must overflow: ${JSON.stringify(tally(s))}`);
    // "Never waits behind shared work", stated so that it can fail without timing the box:
    // the slowest premium call finished within ELITE's own deadline (the promise made to the
    // tier), and before the shared work that was admitted alongside it had drained. A premium
    // call queued behind the shared backlog would finish only after that backlog.
    const slowestPremium = Math.max(...p.map((o) => o.ms));
    const lastShared = Math.max(...s.filter((o) => o.ok).map((o) => o.ms));
    const eliteDeadline = stack.config.tiers.ELITE.deadlineMs;
    assert.ok(slowestPremium < eliteDeadline, `slowest premium call ${slowestPremium.toFixed(0)} ms, ELITE deadline ${eliteDeadline} ms`);
    assert.ok(slowestPremium < lastShared, `premium (${slowestPremium.toFixed(0)} ms) must not wait for the shared backlog (${lastShared.toFixed(0)} ms)`);
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

  /** Starts a PlaceOrder that the test cancels itself; `ended` is the status the client saw. */
  function cancellable(client: OrderClient, req: PlaceInit): { call: ClientUnaryCall; ended: Promise<number> } {
    let call!: ClientUnaryCall;
    const ended = new Promise<number>((done) => {
      call = client.client.raw.makeUnaryRequest<Buffer, Buffer>(
        PLACE, (b) => b, (b) => b,
        Buffer.from(toBinary(PlaceOrderRequestSchema, create(PlaceOrderRequestSchema, req))),
        client.client.metadata(), { deadline: Date.now() + 30_000 }, (err) => done(err?.code ?? 0),
      );
    });
    return { call, ended };
  }

  /** Waits until the gateway has finished `n` more PlaceOrder calls of `tier` with `code`. */
  async function gatewayFinished(tier: string, code: string, before: number): Promise<number> {
    const count = () => rpcCount(stack.gateway, { method: 'OrderService/PlaceOrder', tier, code });
    for (let i = 0; i < 200 && (await count()) === before; i++) await sleep(25);
    return (await count()) - before;
  }

  it('does not run a queued call whose client cancelled', async () => {
    // Fill the premium pool's four slots and its queue with slow batches, then cancel a
    // PlaceOrder that must be waiting behind them.
    const floodCalls = Array.from({ length: 40 }, () => premium.placeMany(batch(100)));
    const flood = runAll(floodCalls.map((p) => () => p));
    // Once the first batch is done the other 39 are at the gateway: the pool has seconds of
    // backlog (4 slots, ~100 ms per batch), so the next call waits in the queue.
    await Promise.race(floodCalls.map((p) => p.catch(() => undefined)));
    const cancelledBefore = await rpcCount(stack.gateway, { method: 'OrderService/PlaceOrder', tier: 'ELITE', code: 'CANCELLED' });
    const okBefore = await rpcCount(stack.gateway, { method: 'OrderService/PlaceOrder', tier: 'ELITE', code: 'OK' });
    const req = restingBuy();
    const { call, ended } = cancellable(premium, req);
    // The pool's backlog is still seconds long: wait until it is visibly queued, then cancel.
    await until(async () => (await metricValue(stack.gateway, 'tierbook_pool_queue_depth', { pool: 'premium' })) > 0, 'premium queue');
    await sleep(50);
    call.cancel();
    assert.equal(await ended, 1, 'the client sees CANCELLED');
    const counts = tally(await flood);
    assert.deepEqual(counts, { OK: 40 }, 'cancelling one call must not fail the others');
    // The gateway had the call (it finished it as CANCELLED, not OK) and never ran it.
    assert.equal(await gatewayFinished('ELITE', 'CANCELLED', cancelledBefore), 1, 'the gateway dropped the call as CANCELLED');
    assert.equal(await rpcCount(stack.gateway, { method: 'OrderService/PlaceOrder', tier: 'ELITE', code: 'OK' }), okBefore, 'and did not run it');
    const e = await premium.getByClientId(req.clientOrderId!).then(() => undefined, (err) => err);
    assert.ok(e, 'the cancelled order must not exist');
    assert.equal(e.code, 5);
  });

  it('does not run a call whose client cancelled while it waited in authentication or admission', async () => {
    // PRO has a rate limit, so admission asks Redis (one GCRA script per lease) before the pool. Redis
    // paused for a moment holds the call there; the client cancels it meanwhile; when Redis
    // answers, the call must be dropped, not dispatched.
    const pro = OrderClient.of(stack.gatewayTarget, (await stack.createAccount('PRO')).apiKey);
    const pauser = new Redis(stack.config.redisUrl);
    try {
      await pro.place(restingBuy()); // the key is now in the gateway's auth cache
      const cancelledBefore = await rpcCount(stack.gateway, { method: 'OrderService/PlaceOrder', tier: 'PRO', code: 'CANCELLED' });
      const okBefore = await rpcCount(stack.gateway, { method: 'OrderService/PlaceOrder', tier: 'PRO', code: 'OK' });
      await sleep(LEASE_MS + 20); // the rate-limit lease of the first call is over: the next asks Redis
      await pauser.call('CLIENT', 'PAUSE', '1500', 'ALL');
      const req = restingBuy();
      const { call, ended } = cancellable(pro, req);
      await sleep(300); // far longer than a loopback call takes to reach the gateway
      call.cancel();
      assert.equal(await ended, 1, 'the client sees CANCELLED');
      // After the pause the limiter answers; the gateway must end the call as CANCELLED.
      assert.equal(await gatewayFinished('PRO', 'CANCELLED', cancelledBefore), 1, 'the gateway had the call and dropped it');
      assert.equal(await rpcCount(stack.gateway, { method: 'OrderService/PlaceOrder', tier: 'PRO', code: 'OK' }), okBefore, 'it did not run');
      const e = await pro.getByClientId(req.clientOrderId!).then(() => undefined, (err) => err);
      assert.ok(e, 'the cancelled order must not exist');
      assert.equal(e.code, 5);
    } finally {
      pauser.disconnect();
      pro.close();
    }
  });
});
