/**
 * The drain timeout (TIERBOOK_DRAIN_MS): a graceful stop waits that long for calls still
 * running, then cancels them instead of waiting on; a cancelled call that had not run yet
 * never runs (its client was told it failed).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { startGateway } from '../../src/server/gateway-process.js';
import { createLogger } from '../../src/shared/logger.js';
import { callError, expectError } from '../support/grpc-client.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { OrderClient, restingBuy } from '../protection/support.js';

const DRAIN_MS = 1_000;
const HELD_MS = 5_000;

describe('drain timeout', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ withoutNginx: true, env: { TIERBOOK_DRAIN_MS: String(DRAIN_MS) } });
  });
  after(async () => stack?.stop());

  it(`cancels a call still running after ${DRAIN_MS} ms instead of waiting for it; the call never runs`, async () => {
    const apiKey = (await stack.createAccount('PRO')).apiKey;
    const client = OrderClient.of(stack.gatewayTarget, apiKey);
    const pauser = new Redis(stack.config.redisUrl);
    try {
      await client.place(restingBuy()); // the key is cached
      // PRO is rate limited, so admission asks Redis: paused, it holds the call far longer
      // than the drain may last.
      await pauser.call('CLIENT', 'PAUSE', String(HELD_MS), 'ALL');
      const req = restingBuy();
      const held = client.place(req, 30_000).then(() => undefined, (e: unknown) => ({ ...callError(e), at: Date.now() }));
      await sleep(200);
      const t0 = Date.now();
      await stack.gateway.shutdown();
      const stoppedAfter = Date.now() - t0;
      const ended = await held;
      assert.ok(ended, 'the held call must not succeed');
      assert.ok(stoppedAfter >= DRAIN_MS, `the stop waited the drain period (${stoppedAfter} ms)`);
      assert.ok(stoppedAfter < HELD_MS - 1_000, `and no longer: it did not wait for the call (${stoppedAfter} ms)`);
      assert.ok(ended.at - t0 < HELD_MS - 1_000, `the client heard at once (${ended.at - t0} ms)`);
      assert.ok(ended.code === status.CANCELLED || ended.code === status.UNAVAILABLE, `status ${ended.code} ${ended.message}`);

      // Once Redis answers again, a fresh gateway shows the order was never placed.
      await sleep(Math.max(0, HELD_MS - (Date.now() - t0)) + 200);
      const next = await startGateway(stack.config, createLogger(stack.config), 0);
      const check = OrderClient.of(`127.0.0.1:${next.port}`, apiKey);
      try {
        assert.equal((await expectError(check.getByClientId(req.clientOrderId!))).code, status.NOT_FOUND);
      } finally {
        check.close();
        await next.shutdown();
      }
    } finally {
      pauser.disconnect();
      client.close();
    }
  });
});
