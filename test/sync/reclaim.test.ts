/**
 * A consumer that died holding many entries: another host's sync reclaims all of them, back
 * to back, not one batch per claim interval, and writes each once. The dead consumer's
 * entries are made to look long idle (XCLAIM ... IDLE), as after a host that died long ago.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import pino from 'pino';
import postgres from 'postgres';
import { eventStreamKey } from '../../src/domain/events.js';
import { loadConfig } from '../../src/shared/config.js';
import { startSyncThread, type SyncThread } from '../../src/sync/index.js';
import { startTestPostgres, startTestRedis, type TestServer } from '../support/servers.js';
import { EngineTrades } from './support/engine-trades.js';
import { eventually } from './support/pg-state.js';

const SYMBOLS = ['AAPL', 'MSFT'];
const TRADES = 600;
/** Small fixed batches and a long claim interval: one batch per interval would take minutes. */
const BATCH = 64;
const CLAIM_IDLE_MS = 20_000;

let redisServer: TestServer;
let pgServer: TestServer;
let redis: Redis;
let sql: postgres.Sql;
let sync: SyncThread | undefined;

before(async () => {
  [redisServer, pgServer] = await Promise.all([startTestRedis(), startTestPostgres()]);
  redis = new Redis(redisServer.url);
  sql = postgres(pgServer.url, { onnotice: () => {} });
});
after(async () => {
  await sync?.stop();
  redis?.disconnect();
  await sql?.end();
  await Promise.all([redisServer?.stop(), pgServer?.stop()]);
});

it('takes over every entry a dead consumer held, back to back, each written once', { timeout: 120_000 }, async () => {
  const trades = await EngineTrades.on(redis, SYMBOLS, ['a1', 'a2', 'a3'], 3);
  for (let i = 0; i < TRADES; i++) await trades.trade();
  // The dead host's consumer read everything and died before acknowledging any of it.
  let held = 0;
  for (const sym of SYMBOLS) {
    const stream = eventStreamKey(sym);
    await redis.xgroup('CREATE', stream, 'pg-sync', '0', 'MKSTREAM');
    const reply = (await redis.xreadgroup('GROUP', 'pg-sync', 'dead-host', 'COUNT', 1_000_000, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
    const ids = reply[0]![1].map(([id]) => id);
    held += ids.length;
    // Idle for ten minutes, as if the host died then.
    await redis.xclaim(stream, 'pg-sync', 'dead-host', 0, ...ids, 'IDLE', 600_000, 'JUSTID');
  }
  assert.ok(held > 20 * BATCH, `the dead consumer holds ${held} entries, many batches' worth`);

  const config = loadConfig({
    TIERBOOK_REDIS_URL: redisServer.url,
    TIERBOOK_DATABASE_URL: pgServer.url,
    TIERBOOK_LOG_LEVEL: 'silent',
    TIERBOOK_INSTRUMENTS_FILE: '/nonexistent/instruments.json',
    TIERBOOK_SYNC_SCAN_INTERVAL_MS: '100',
    TIERBOOK_SYNC_DISCOVER_INTERVAL_MS: '100',
    TIERBOOK_SYNC_CONSUMER: 'live-host',
    TIERBOOK_SYNC_BATCH_MIN: String(BATCH),
    TIERBOOK_SYNC_BATCH_MAX: String(BATCH),
    TIERBOOK_SYNC_CLAIM_IDLE_MS: String(CLAIM_IDLE_MS),
  });
  sync = await startSyncThread(config, pino({ level: 'silent' }));
  const deadPending = async () => {
    let n = 0;
    for (const sym of SYMBOLS) n += ((await redis.xpending(eventStreamKey(sym), 'pg-sync', '-', '+', 1_000_000, 'dead-host')) as unknown[]).length;
    return n;
  };
  // One batch per CLAIM_IDLE_MS / 2 would need (held / BATCH) x 10 s, over three minutes.
  await eventually('the dead consumer holds nothing', async () => (await deadPending()) === 0, CLAIM_IDLE_MS);
  await eventually('every fill in Postgres', async () => Number((await sql`SELECT count(*)::int AS n FROM fills`)[0]?.n) === TRADES, 30_000);
  await eventually('the reclaim counted', async () => sync!.stats().reclaimed >= held, 5_000);
  const [row] = await sql`SELECT count(*)::int AS n, count(DISTINCT fill_id)::int AS d FROM fills`;
  assert.equal(row?.d, TRADES, 'every fill once');
  assert.equal(row?.n, TRADES, 'no fill twice');
  assert.equal(Number((await sql`SELECT count(*)::int AS n FROM orders`)[0]?.n), trades.orders.size, 'every order once');
});
