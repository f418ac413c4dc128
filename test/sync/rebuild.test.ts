/**
 * Rebuild after Redis loss, through the real matching engine: trade, let the sync write it
 * all, wipe Redis, rebuild from Postgres, trade on; the books must end exactly as in a run
 * that was never interrupted, and client order ids must still answer retries.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { createRedis } from '../../src/shared/redis.js';
import pino from 'pino';
import postgres from 'postgres';
import { ApiError } from '../../src/domain/errors.js';
import { eventStreamKey } from '../../src/domain/events.js';
import { loadConfig } from '../../src/shared/config.js';
import { fromRoot } from '../../src/shared/paths.js';
import { rebuildFromConfig } from '../../src/cli/rebuild.js';
import { startSyncThread, type SyncThread } from '../../src/sync/index.js';
import { loadInstrumentsFile, publishInstruments } from '../../src/workers/orders/index.js';
import { startTestPostgres, startTestRedis, type TestServer } from '../support/servers.js';
import { tierbookCli } from '../support/stack-cli.js';
import { flushAll, startSwitchableRedis } from '../support/test-redis.js';
import { OrderFlow } from './support/order-flow.js';
import { eventually, pgPositions, redisPositions } from './support/pg-state.js';
import { snapshotBooks } from './support/redis-snapshot.js';

const INSTRUMENTS = loadInstrumentsFile(fromRoot('config', 'instruments.json')).slice(0, 2);
const SYMBOLS = INSTRUMENTS.map((i) => i.symbol);
const ACCOUNTS = ['r1', 'r2', 'r3', 'r4'];
const BEFORE = 400;
const AFTERWARDS = 200;

describe('rebuild after Redis loss', () => {
  // The Redis under test may be a cluster (TIERBOOK_TEST_REDIS_CLUSTER=1); the reference is one Redis.
  let servers: { url: string; stop(): Promise<void> }[] = [];
  let redis: Redis;
  let reference: Redis;
  let sql: postgres.Sql;
  let sync: SyncThread | undefined;

  before(async () => {
    servers = await Promise.all([startSwitchableRedis(), startTestRedis(), startTestPostgres()]);
    const [r, ref, pg] = servers as [TestServer, TestServer, TestServer];
    redis = createRedis(r.url);
    reference = new Redis(ref.url);
    sql = postgres(pg.url, { onnotice: () => {}, max: 2 });
  });
  after(async () => {
    await sync?.stop();
    redis?.disconnect();
    reference?.disconnect();
    await sql?.end();
    await Promise.all(servers.map((s) => s.stop()));
  });

  const config = () => {
    const [r, , pg] = servers as [TestServer, TestServer, TestServer];
    return loadConfig({
      TIERBOOK_REDIS_URL: r.url,
      TIERBOOK_DATABASE_URL: pg.url,
      TIERBOOK_LOG_LEVEL: 'silent',
      TIERBOOK_SYNC_DISCOVER_INTERVAL_MS: '100',
      // These tests create books at runtime, not listed in the instruments file.
      TIERBOOK_SYNC_SCAN_INTERVAL_MS: '100',
      TIERBOOK_SYNC_MAX_BACKOFF_MS: '200',
    });
  };

  const drained = async () => {
    for (const s of SYMBOLS) {
      const [pending] = (await redis.xpending(eventStreamKey(s), 'pg-sync').catch(() => [1])) as [number];
      if (Number(pending) !== 0) return false;
      const info = (await redis.xinfo('GROUPS', eventStreamKey(s))) as unknown[][];
      const g = info[0] ?? [];
      const lastDelivered = g[g.indexOf('last-delivered-id') + 1];
      const [last] = (await redis.xrevrange(eventStreamKey(s), '+', '-', 'COUNT', 1))[0] ?? [];
      if (last && lastDelivered !== last) return false;
    }
    return true;
  };

  it('restores books, orders, positions and client ids so trading continues as if nothing happened', { timeout: 90_000 }, async () => {
    // The uninterrupted run.
    await publishInstruments(reference, INSTRUMENTS);
    const refFlow = new OrderFlow(reference, INSTRUMENTS, ACCOUNTS, 5);
    await refFlow.run(BEFORE + AFTERWARDS);

    // The interrupted one: same flow, Redis lost half-way.
    await publishInstruments(redis, INSTRUMENTS);
    sync = await startSyncThread(config(), pino({ level: 'silent' }));
    const flow = new OrderFlow(redis, INSTRUMENTS, ACCOUNTS, 5);
    await flow.run(BEFORE);
    await eventually('the sync caught up', drained);
    assert.deepEqual(await pgPositions(sql), await redisPositions(redis), 'Postgres equals Redis before the loss');
    const beforeLoss = await snapshotBooks(redis, SYMBOLS);

    await flushAll(redis);
    let shown = '';
    const out = Object.assign(new Writable({ write: (c, _e, cb) => ((shown += String(c)), cb()) }), { isTTY: false });
    const report = await rebuildFromConfig({ config: { ...config(), orders: { ...config().orders } }, out });
    assert.match(shown, /rebuild: \[#+\.*\] \d+%/, 'progress is displayed');
    assert.match(shown, /rebuild: \d+ books, \d+ orders \(\d+ working\), \d+ positions/);
    assert.equal(report.books.length, loadInstrumentsFile(fromRoot('config', 'instruments.json')).length, 'every listed book');
    assert.ok(report.open > 0 && report.clientIds > 0);
    assert.deepEqual(await snapshotBooks(redis, SYMBOLS), beforeLoss, 'the rebuilt books equal the lost ones');

    // A retry of a placed order with its client order id still gets the first answer.
    const withCoid = (await sql`SELECT account_id, client_order_id, order_id, symbol, side, order_type, tif,
      placed_price::text, placed_qty::text, post_only, stp FROM orders WHERE client_order_id <> '' AND placed_ver = 1 LIMIT 1`)[0];
    assert.ok(withCoid);
    const input = { symbol: withCoid.symbol, side: withCoid.side, type: withCoid.order_type, tif: withCoid.tif, price: BigInt(withCoid.placed_price), qty: BigInt(withCoid.placed_qty), coid: withCoid.client_order_id, postOnly: withCoid.post_only, stp: withCoid.stp };
    const again = await flow.engine.place(withCoid.account_id, input);
    assert.equal(again.order.id, withCoid.order_id, 'the retry returns the first order, not a new one');
    await assert.rejects(flow.engine.place(withCoid.account_id, { ...input, qty: input.qty + 1n }), (e: unknown) => e instanceof ApiError && e.reason === 'DUPLICATE_CLIENT_ORDER_ID');

    await flow.run(AFTERWARDS);
    // Only the flow's own refusals, and as many as in the uninterrupted run: the rebuilt
    // engine refused nothing the lost one would have accepted.
    assert.deepEqual(flow.unexpectedRefusals(), {}, 'no call failed for another reason');
    assert.deepEqual(refFlow.unexpectedRefusals(), {});
    assert.deepEqual(Object.fromEntries(flow.refusals), Object.fromEntries(refFlow.refusals), 'the same refusals as without the loss');
    assert.deepEqual(await snapshotBooks(redis, SYMBOLS), await snapshotBooks(reference, SYMBOLS), 'same end state as the uninterrupted run');
    await eventually('the sync caught up after the rebuild', drained);
    assert.deepEqual(await pgPositions(sql), await redisPositions(redis), 'Postgres equals Redis after trading on');
    const sums = await sql`SELECT symbol, sum(quantity)::text AS q FROM positions GROUP BY symbol`;
    for (const r of sums) assert.equal(r.q, '0');
  });

  it('the tierbook CLI refuses to rebuild over live books, and rebuilds a Redis that lost them', { timeout: 60_000 }, async () => {
    await eventually('the sync caught up', drained);
    const books = await snapshotBooks(redis, SYMBOLS);
    const [r, , pg] = servers as [TestServer, TestServer, TestServer];
    const env = { ...process.env, TIERBOOK_REDIS_URL: r.url, TIERBOOK_DATABASE_URL: pg.url, TIERBOOK_LOG_LEVEL: 'silent' };
    const cli = (...args: string[]) => tierbookCli(env, args);
    const refused = await cli('rebuild');
    assert.equal(refused.code, 1, refused.out);
    assert.match(refused.out, /Redis still holds order books.*--force/);
    assert.deepEqual(await snapshotBooks(redis, SYMBOLS), books, 'the refusal changed nothing');
    await flushAll(redis);
    const rebuilt = await cli('rebuild');
    assert.equal(rebuilt.code, 0, rebuilt.out);
    assert.match(rebuilt.out, /rebuild: \d+ books, \d+ orders \(\d+ working\), \d+ positions/);
    assert.deepEqual(await snapshotBooks(redis, SYMBOLS), books, 'the CLI restored the books');
  });
});
