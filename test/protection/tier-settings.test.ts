/**
 * Per-tier settings and the auth cache as a client sees them at a real gateway: a call that
 * sets no deadline gets its tier's (TIERBOOK_DEADLINE_MS_<TIER>), analytics answers are cached
 * for their tier's lifetime (TIERBOOK_CACHE_TTL_MS_<TIER>), a revoked API key keeps working
 * until the gateway's auth cache entry expires (TIERBOOK_AUTH_CACHE_MS) and not after, and a
 * pool's cap (TIERBOOK_<POOL>_MAX_RPS) refuses past it through the gateway.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { LEASE_MS } from '../../src/server/rate-limiter.js';
import { hashApiKey, authKey } from '../../src/shared/accounts-store.js';
import { AnalyticsService, GetPortfolioRequestSchema, GetPortfolioResponseSchema } from '../../src/gen/tierbook/v1/analytics_service_pb.js';
import { create, toBinary } from '@bufbuild/protobuf';
import { PlaceOrderRequestSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { callError, expectError, TestClient } from '../support/grpc-client.js';
import { startTestStack, type TestAccount, type TestStack } from '../support/stack.js';
import { OrderClient, restingBuy, runAll, tally, type PlaceInit } from './support.js';

describe('tier settings at the gateway', () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack({
      withoutNginx: true,
      env: {
        TIERBOOK_DEADLINE_MS_LITE: '100',
        TIERBOOK_DEADLINE_MS_PRO: '100',
        TIERBOOK_RATE_LIMIT_PRO: '0',
        TIERBOOK_SHARED_CONCURRENCY: '1',
        TIERBOOK_CACHE_TTL_MS_PRO: '300',
        TIERBOOK_CACHE_TTL_MS_ELITE: '60000',
        TIERBOOK_AUTH_CACHE_MS: '1000',
      },
    });
  });
  after(async () => stack?.stop());

  it("a call that sets no deadline gets its tier's (PRO: 100 ms here) while it waits for a thread; one that set its own runs", async () => {
    // One shared slot. Redis paused for 400 ms holds the first call inside the worker; the
    // next two wait for the slot meanwhile. PRO has no rate limit here, so nothing else waits.
    const pro = OrderClient.of(stack.gatewayTarget, (await stack.createAccount('PRO')).apiKey);
    const pauser = new Redis(stack.config.redisUrl);
    try {
      await pro.place(restingBuy()); // the key is cached, the worker warm
      const [blocker, tierDefault, ownDeadline] = [restingBuy(), restingBuy(), restingBuy()];
      await pauser.call('CLIENT', 'PAUSE', '400', 'ALL');
      const first = pro.place(blocker, 10_000);
      await sleep(50);
      const [d, own] = await Promise.all([placeWithoutDeadline(pro, tierDefault), pro.place(ownDeadline, 10_000).then(() => 'OK', (e) => callError(e).reason)]);
      await first;
      assert.deepEqual([d.code, d.reason], [status.DEADLINE_EXCEEDED, 'DEADLINE_PASSED'], "PRO's default deadline passed while it waited");
      assert.equal(own, 'OK', 'a call with its own 10 s deadline is not cut to the tier default');
      assert.equal((await expectError(pro.getByClientId(tierDefault.clientOrderId!))).code, status.NOT_FOUND, 'the timed-out order was not placed');
    } finally {
      pauser.disconnect();
      pro.close();
    }
  });

  it("a tier's default deadline also counts the wait in authentication and admission", async () => {
    // LITE has a rate limit, so admission asks Redis; Redis paused for 400 ms holds the call
    // there, four times LITE's 100 ms default deadline here.
    const lite = OrderClient.of(stack.gatewayTarget, (await stack.createAccount('LITE')).apiKey);
    const pauser = new Redis(stack.config.redisUrl);
    try {
      await lite.place(restingBuy());
      // Past the rate-limit lease (LEASE_MS) the next call must ask Redis again.
      await sleep(LEASE_MS + 20);
      const req = restingBuy();
      await pauser.call('CLIENT', 'PAUSE', '400', 'ALL');
      const l = await placeWithoutDeadline(lite, req);
      assert.deepEqual([l.code, l.reason], [status.DEADLINE_EXCEEDED, 'DEADLINE_PASSED'], 'LITE must not run past its tier deadline');
      assert.equal((await expectError(lite.getByClientId(req.clientOrderId!))).code, status.NOT_FOUND, 'the LITE order was not placed');
    } finally {
      pauser.disconnect();
      lite.close();
    }
  });

  it("analytics answers live for their tier's cache TTL: PRO's 300 ms, ELITE's 60 s", async () => {
    const [pro, elite] = [await stack.createAccount('PRO'), await stack.createAccount('ELITE')];
    // No sync runs in this stack: nothing bumps the accounts' versions, so only the TTL
    // decides when a change in Postgres shows.
    for (const a of [pro, elite]) {
      await stack.sql`INSERT INTO positions (account_id, symbol, quantity, cost_basis, realized_pnl, ver) VALUES (${a.accountId}, 'AAPL', 5, 9500000, 0, 1)`;
    }
    const clients = [pro, elite].map((a) => new TestClient(stack.gatewayTarget, a.apiKey));
    const held = async () => Promise.all(clients.map(async (c) =>
      (await c.unary(AnalyticsService, 'GetPortfolio', GetPortfolioRequestSchema, GetPortfolioResponseSchema, {})).positions[0]?.quantityLots));
    try {
      assert.deepEqual(await held(), [5n, 5n]);
      await stack.sql`UPDATE positions SET quantity = 7, ver = 2 WHERE account_id IN (${pro.accountId}, ${elite.accountId})`;
      assert.deepEqual(await held(), [5n, 5n], 'both cached');
      await sleep(600); // past PRO's TTL, far within ELITE's
      assert.deepEqual(await held(), [7n, 5n], "PRO's entry expired, ELITE's did not");
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('a revoked API key works until the auth cache entry expires (TIERBOOK_AUTH_CACHE_MS), then is UNAUTHENTICATED', async () => {
    const acct: TestAccount = await stack.createAccount('PRO');
    const c = OrderClient.of(stack.gatewayTarget, acct.apiKey);
    try {
      await c.place(restingBuy()); // looked up and cached now
      const cachedAt = Date.now();
      // Revoke as an operator would: mark it in Postgres (the truth) and drop it from Redis.
      const keyHash = hashApiKey(acct.apiKey);
      await stack.sql`UPDATE api_keys SET revoked_at = now() WHERE key_hash = ${keyHash}`;
      await stack.redis.del(authKey(keyHash));
      await c.place(restingBuy());
      assert.ok(Date.now() - cachedAt < 1000, 'the second call ran within the cache lifetime');
      await sleep(1000 - (Date.now() - cachedAt) + 100);
      const e = await expectError(c.place(restingBuy()));
      assert.deepEqual([e.code, e.reason], [status.UNAUTHENTICATED, 'INVALID_API_KEY']);
    } finally {
      c.close();
    }
  });
});

describe('pool cap at the gateway (TIERBOOK_SHARED_MAX_RPS)', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({
      withoutNginx: true,
      env: { TIERBOOK_SHARED_MAX_RPS: '20', TIERBOOK_RATE_LIMIT_LITE: '0', TIERBOOK_RATE_LIMIT_ELITE: '0' },
    });
  });
  after(async () => stack?.stop());

  it('refuses shared calls past the cap with TIER_QUEUE_FULL naming the pool; premium is not capped', async () => {
    const lite = OrderClient.of(stack.gatewayTarget, (await stack.createAccount('LITE')).apiKey);
    const elite = OrderClient.of(stack.gatewayTarget, (await stack.createAccount('ELITE')).apiKey);
    try {
      // 20 calls/s with a burst of a tenth of a second (2 calls): 30 at once cannot all pass.
      const [shared, premium] = await Promise.all([
        runAll(Array.from({ length: 30 }, () => () => lite.place(restingBuy()))),
        runAll(Array.from({ length: 30 }, () => () => elite.place(restingBuy()))),
      ]);
      assert.deepEqual(tally(premium), { OK: 30 });
      const counts = tally(shared);
      assert.ok((counts.OK ?? 0) >= 1 && (counts.OK ?? 0) <= 5, `about the burst admitted: ${JSON.stringify(counts)}`);
      for (const o of shared.filter((x) => !x.ok)) {
        assert.deepEqual([o.error!.code, o.error!.reason, o.error!.metadata.pool], [status.RESOURCE_EXHAUSTED, 'TIER_QUEUE_FULL', 'shared']);
        assert.ok(Number(o.error!.metadata.retry_delay_ms) > 0);
      }
    } finally {
      lite.close();
      elite.close();
    }
  });
});

/** A PlaceOrder with no client deadline (TestClient always sets one): resolves with the status code and reason. */
function placeWithoutDeadline(c: OrderClient, req: PlaceInit): Promise<{ code: number; reason?: string }> {
  return new Promise((resolve) => {
    c.client.raw.makeUnaryRequest<Buffer, Buffer>(
      '/tierbook.v1.OrderService/PlaceOrder', (b) => b, (b) => b,
      Buffer.from(toBinary(PlaceOrderRequestSchema, create(PlaceOrderRequestSchema, req))),
      c.client.metadata(), {},
      (err) => resolve(err ? { code: callError(err).code, reason: callError(err).reason } : { code: status.OK }),
    );
  });
}
