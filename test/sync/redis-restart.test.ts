/**
 * Redis killed (kill -9) under load and restarted from its append-only file, as the stack
 * runs it (appendonly yes, appendfsync everysec): every order the gateway acknowledged is
 * still there afterwards (in Redis, and written by the sync to Postgres), and Postgres
 * equals Redis again.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { startSyncThread, type SyncThread } from '../../src/sync/index.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { startRestartableRedis, type RestartableRedis } from '../support/restartable-redis.js';
import { OrderClient, restingBuy } from '../protection/support.js';
import { eventually } from './support/pg-state.js';

describe('Redis restarted from its AOF', () => {
  let redis: RestartableRedis;
  let stack: TestStack;
  let sync: SyncThread | undefined;

  before(async () => {
    redis = await startRestartableRedis({ appendOnly: true });
    stack = await startTestStack({
      withoutNginx: true,
      redisUrl: redis.url,
      env: { TIERBOOK_RATE_LIMIT_PRO: '0', TIERBOOK_AUTH_CACHE_MS: '600000', TIERBOOK_SYNC_SCAN_INTERVAL_MS: '100', TIERBOOK_SYNC_MAX_BACKOFF_MS: '200' },
    });
    sync = await startSyncThread(stack.config, pino({ level: 'silent' }));
  });
  after(async () => {
    await sync?.stop();
    await stack?.stop();
    await redis?.destroy();
  });

  // Redis hands each write to the OS before it answers (appendfsync everysec only delays the
  // fsync), so a killed process loses nothing it acknowledged; a power loss could lose up to
  // a second, which this test cannot reproduce.
  it('keeps every acknowledged order across kill -9 and a restart under load', async () => {
    const acct = await stack.createAccount('PRO');
    const client = OrderClient.of(stack.gatewayTarget, acct.apiKey);
    const acked = new Map<string, string>();
    let running = true;
    const loops = Array.from({ length: 8 }, async () => {
      while (running) {
        const req = restingBuy();
        try {
          const r = await client.place(req, 2_000);
          acked.set(req.clientOrderId!, r.order!.orderId);
        } catch {
          if (running) await sleep(20); // Redis is gone: outcome unknown, not acknowledged
        }
      }
    });
    try {
      await eventually('some load', async () => acked.size >= 300, 30_000);
      await redis.kill();
      running = false;
      await Promise.all(loops);
      await redis.up();
      const missing: string[] = [];
      for (const [coid, id] of acked) {
        // As clients are told to: retry UNAVAILABLE (the gateway's connection may still be
        // reconnecting), for a few seconds at most.
        let got: string | undefined;
        for (let attempt = 0; attempt < 50; attempt++) {
          const r: { id?: string; code?: number } = await client.getByClientId(coid).then((x) => ({ id: x.order?.orderId }), (e: { code?: number }) => ({ code: e.code }));
          if (r.code === 14) {
            await sleep(100);
            continue;
          }
          got = r.id;
          break;
        }
        if (got !== id) missing.push(coid);
      }
      assert.deepEqual(missing, [], `${missing.length} of ${acked.size} acknowledged orders gone from Redis after the restart`);
      await eventually('Postgres has every acknowledged order', async () =>
        Number((await stack.sql`SELECT count(*) AS n FROM orders WHERE order_id IN ${stack.sql([...acked.values()])}`)[0]!.n) === acked.size, 30_000);
    } finally {
      running = false;
      client.close();
    }
  });
});
