/**
 * The rate limiter when Redis is down (src/server/rate-limiter.ts fails open): calls are not
 * refused as RATE_LIMITED nor hang; they go on to their pool, whose own Redis trouble answers
 * UNAVAILABLE within the deadline; once Redis is back (empty, scripts gone) the limit holds
 * again.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { startRestartableRedis, type RestartableRedis } from '../support/restartable-redis.js';
import { metricValue } from '../support/rpc-count.js';
import { OrderClient, runAll, tally } from './support.js';
import { createRedis } from '../../src/shared/redis.js';
import { createLogger } from '../../src/shared/logger.js';
import { RateLimiter } from '../../src/server/rate-limiter.js';

describe('rate limits while Redis is down', () => {
  let redis: RestartableRedis;
  let stack: TestStack;
  let pro: OrderClient;

  before(async () => {
    redis = await startRestartableRedis();
    stack = await startTestStack({
      withoutNginx: true,
      redisUrl: redis.url,
      // The key stays cached while Redis is away: this is about the limiter, not auth.
      env: { TIERBOOK_RATE_LIMIT_PRO: '5', TIERBOOK_RATE_BURST_PRO: '10', TIERBOOK_AUTH_CACHE_MS: '600000' },
    });
    pro = OrderClient.of(stack.gatewayTarget, (await stack.createAccount('PRO')).apiKey);
  });
  after(async () => {
    pro?.close();
    await stack?.stop();
    await redis?.destroy();
  });

  /** Calls that are admitted do no work: a lookup of an order that does not exist. */
  const burst = (n: number) => runAll(Array.from({ length: n }, () => () => pro.getByClientId('no-such-order')));
  const ranOnShared = () => metricValue(stack.gateway, 'tierbook_worker_task_seconds_count', { pool: 'shared', method: 'GetOrder' });

  it('limits with Redis up, lets calls through (failing UNAVAILABLE on the way) with Redis down, and limits again after it is back', async () => {
    const t0 = performance.now();
    const up = tally(await burst(20));
    // The burst of 10 is admitted, plus what the rate (5/s) refills while the 20 calls run (a
    // busy box takes a few hundred ms for them); the rest is refused.
    const refilled = Math.floor(((performance.now() - t0) / 1000) * 5);
    const admitted = up['5/ORDER_NOT_FOUND'] ?? 0;
    assert.ok(admitted >= 10 && admitted <= 10 + refilled, `the burst of 10 is admitted (+${refilled} refilled): ${JSON.stringify(up)}`);
    assert.equal(up['8/RATE_LIMITED'], 20 - admitted, JSON.stringify(up));

    await redis.kill();
    const ranBefore = await ranOnShared();
    const down = await burst(20);
    const counts = tally(down);
    // Not refused by the limiter, not hung: each call went on to the worker, which could not
    // reach Redis either and said so.
    assert.equal(counts['8/RATE_LIMITED'], undefined, `the limiter must fail open: ${JSON.stringify(counts)}`);
    for (const o of down) {
      assert.equal(o.error?.code, status.UNAVAILABLE, JSON.stringify(counts));
      assert.ok(o.ms < 9_000, `answered within the deadline (${o.ms.toFixed(0)} ms)`);
    }
    assert.equal(await ranOnShared() - ranBefore, 20, 'every call reached its pool');

    await redis.up(); // empty: no rate-limit state, no cached script (EVALSHA falls back to EVAL)
    let again: Record<string, number> = {};
    for (let i = 0; i < 100 && !again['8/RATE_LIMITED']; i++) {
      again = tally(await burst(20));
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok((again['8/RATE_LIMITED'] ?? 0) > 0, `limits hold again: ${JSON.stringify(again)}`);
  });

  it('lets every waiting call of an account through together when the lease they wait for cannot reach Redis', async () => {
    await redis.up();
    // As the gateway makes it; burst 1 leases one call at a time, so every call needs Redis.
    const client = createRedis(redis.url, { enableAutoPipelining: true });
    const unlimited = { ratePerSec: 0, burst: 0 };
    const limiter = new RateLimiter(client, { LITE: { ratePerSec: 5, burst: 1 }, PRO: unlimited, ELITE: unlimited, BLACK: unlimited }, createLogger(stack.config));
    try {
      await limiter.take('acc_waiters', 'LITE');
      // Killed and called in the same tick: the client has not heard of it yet, so the first
      // call sends a lease request that fails only after ioredis' retries; the other 19 wait
      // for that one request.
      const killed = redis.kill();
      const t0 = performance.now();
      const settled = await Promise.all(Array.from({ length: 20 }, () => limiter.take('acc_waiters', 'LITE').then(
        () => ({ ok: true, ms: performance.now() - t0 }), (err: unknown) => ({ ok: false, err: String(err), ms: performance.now() - t0 }))));
      await killed;
      assert.deepEqual(settled.filter((s) => !s.ok), [], 'every call fails open');
      const ms = settled.map((s) => s.ms);
      const spread = Math.max(...ms) - Math.min(...ms);
      assert.ok(spread < 250, `the waiters are let through with the failed lease, not one reconnect back-off each: first ${Math.min(...ms).toFixed(0)} ms, last ${Math.max(...ms).toFixed(0)} ms`);
    } finally {
      client.disconnect();
      await redis.up();
    }
  });
});
