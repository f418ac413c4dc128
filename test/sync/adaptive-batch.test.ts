/**
 * Adaptive sync batch sizing (TIERBOOK_SYNC_BATCH_MIN / _MAX): a backlog is written in few
 * large transactions (the target doubles up to the maximum while batches fill), and once
 * events only trickle in the target falls back to the minimum (small batches, low lag).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pino from 'pino';
import { AdaptiveBatch } from '../../src/sync/adaptive-batch.js';
import { loadConfig } from '../../src/shared/config.js';
import { startSyncThread, type SyncThread } from '../../src/sync/index.js';
import { startTestPostgres, startTestRedis, type TestServer } from '../support/servers.js';
import { EngineTrades } from './support/engine-trades.js';
import { eventually } from './support/pg-state.js';

const MIN = 16;
const MAX = 256;

describe('AdaptiveBatch', () => {
  it('doubles while batches fill, halves when they close far below target, within its bounds', () => {
    const b = new AdaptiveBatch(MIN, MAX);
    assert.equal(b.target, MIN);
    const seen = [];
    for (let i = 0; i < 6; i++) {
      b.closed(b.target);
      seen.push(b.target);
    }
    assert.deepEqual(seen, [32, 64, 128, 256, 256, 256]);
    b.closed(MAX / 2); // half full: keep the size
    assert.equal(b.target, MAX);
    for (let i = 0; i < 6; i++) b.closed(1);
    assert.equal(b.target, MIN);
  });
});

describe('the sync thread sizes its batches to the backlog', () => {
  let servers: TestServer[];
  let redis: Redis;
  let sync: SyncThread | undefined;

  before(async () => {
    servers = await Promise.all([startTestRedis(), startTestPostgres()]);
    redis = new Redis(servers[0]!.url);
  });
  after(async () => {
    await sync?.stop();
    redis?.disconnect();
    await Promise.all(servers.map((s) => s.stop()));
  });

  it(`drains a backlog in batches of up to ${MAX}, then returns to ${MIN} when events trickle`, { timeout: 120_000 }, async () => {
    const trades = await EngineTrades.on(redis, ['BATCH'], ['x1', 'x2', 'x3'], 5);
    for (let i = 0; i < 400; i++) await trades.trade();
    const backlog = await redis.xlen('{bk:BATCH}:events');
    sync = await startSyncThread(loadConfig({
      TIERBOOK_REDIS_URL: servers[0]!.url,
      TIERBOOK_DATABASE_URL: servers[1]!.url,
      TIERBOOK_LOG_LEVEL: 'silent',
      TIERBOOK_INSTRUMENTS_FILE: '/nonexistent/instruments.json',
      TIERBOOK_SYNC_BATCH_MIN: String(MIN),
      TIERBOOK_SYNC_BATCH_MAX: String(MAX),
      TIERBOOK_SYNC_DISCOVER_INTERVAL_MS: '100',
      TIERBOOK_SYNC_SCAN_INTERVAL_MS: '100',
    }), pino({ level: 'silent' }));
    await eventually('the backlog committed', async () => sync!.stats().committed >= backlog, 60_000);
    const drained = sync.stats();
    // Batches of the minimum would need backlog / MIN transactions; doubling to MAX needs
    // 4 growing ones (16 + 32 + 64 + 128) and then about backlog / MAX (a batch may close
    // short on its linger time now and then, so allow twice that).
    const ceiling = 4 + 2 * Math.ceil(backlog / MAX) + 2;
    assert.ok(drained.batches <= ceiling, `${drained.batches} transactions for ${backlog} entries (at most ${ceiling}; ${Math.ceil(backlog / MIN)} at the minimum size)`);
    assert.ok(drained.batches < backlog / MIN / 4, `${drained.batches} transactions for ${backlog} entries`);

    // A trickle: one trade at a time, apart. Each batch closes on its linger time nearly empty.
    for (let i = 0; i < 20; i++) {
      await trades.trade();
      await sleep(50);
    }
    await eventually(`the target back at ${MIN}`, async () => sync!.stats().batchTarget === MIN, 10_000);
  });
});
