/**
 * The sync on a Redis Cluster that loses a master (killed, no replica) while the sync holds
 * entries of that master's book: the batch commits to Postgres, its XACK on the lost master
 * fails, and the sync must go on writing the other masters' books (the acknowledgement is
 * kept and tried again in the background, src/sync/sync-loop.ts) instead of retrying it in
 * place and holding every book until the master returns.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import postgres from 'postgres';
import type { Cluster, Redis } from 'ioredis';
import { eventStreamKey } from '../../src/domain/events.js';
import { bookStateKey } from '../../src/domain/matching/keys.js';
import { loadConfig } from '../../src/shared/config.js';
import { createRedis } from '../../src/shared/redis.js';
import { startSyncThread, type SyncThread } from '../../src/sync/index.js';
import { startTestCluster, type TestCluster } from '../support/redis-cluster.js';
import { startTestPostgres, type TestServer } from '../support/servers.js';
import { EngineTrades } from './support/engine-trades.js';
import { eventually } from './support/pg-state.js';

let cluster: TestCluster;
let pg: TestServer;
let redis: Redis;
let sql: postgres.Sql;
let sync: SyncThread;

before(async () => {
  [cluster, pg] = await Promise.all([startTestCluster(), startTestPostgres()]);
  const url = `redis-cluster://${cluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  redis = createRedis(url);
  sql = postgres(pg.url, { onnotice: () => {} });
  const config = loadConfig({
    TIERBOOK_REDIS_URL: url,
    TIERBOOK_DATABASE_URL: pg.url,
    TIERBOOK_LOG_LEVEL: 'silent',
    TIERBOOK_INSTRUMENTS_FILE: '/nonexistent/instruments.json',
    TIERBOOK_SYNC_DISCOVER_INTERVAL_MS: '100',
    TIERBOOK_SYNC_SCAN_INTERVAL_MS: '100',
    TIERBOOK_SYNC_MAX_BACKOFF_MS: '200',
    // A batch stays open this long for more entries: the master is killed inside it, after the
    // sync has read the lost book's entries and before it commits and acknowledges them.
    TIERBOOK_SYNC_LINGER_MS: '2000',
  });
  sync = await startSyncThread(config, pino({ level: 'silent' }));
});
after(async () => {
  await sync?.stop();
  redis?.disconnect();
  await sql?.end();
  await Promise.all([cluster?.stop(), pg?.stop()]);
});

const inPostgres = async (fills: Iterable<string>) => {
  const ids = [...fills];
  const [row] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM fills WHERE fill_id IN ${sql(ids)}`;
  return Number(row!.n) === ids.length;
};

test('a lost master holds only its own books: the others keep reaching Postgres', { timeout: 120_000 }, async () => {
  const c = redis as unknown as Cluster;
  const masterOf = async (symbol: string) => {
    const slot = Number(await c.cluster('KEYSLOT', bookStateKey(symbol)));
    return `127.0.0.1:${c.slots[slot]![0]!.split(':')[1]}`;
  };
  const [lostBook, liveBook] = ['AAPL', 'MSFT'];
  const lostMaster = await masterOf(lostBook);
  assert.notEqual(lostMaster, await masterOf(liveBook), 'the two books live on different masters');
  const trades = await EngineTrades.on(redis, [lostBook, liveBook], ['a1', 'a2', 'a3', 'a4'], 3);

  // Both books flow to Postgres.
  await trades.trade(lostBook);
  await trades.trade(liveBook);
  await eventually('the first trades in Postgres', () => inPostgres(trades.fills), 30_000);

  // A trade on each book while Postgres holds the sync's write (a lock on fills): the sync has
  // read the lost book's entries and cannot commit them yet. Then that book's master goes,
  // and the lock is released.
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const lockTaken = new Promise<void>((r) => (locked = r));
  const lock = sql.begin(async (tx) => {
    await tx`LOCK TABLE fills IN ACCESS EXCLUSIVE MODE`;
    locked();
    await released;
  });
  await lockTaken;
  const before = new Set(trades.fills);
  await trades.trade(lostBook);
  await trades.trade(liveBook);
  const held = [...trades.fills].filter((f) => !before.has(f));
  await eventually('the sync holds the lost book\'s entries', async () =>
    Number(((await redis.xpending(eventStreamKey(lostBook), 'pg-sync')) as [number])[0]) > 0, 10_000);
  await cluster.nodes.find((n) => `127.0.0.1:${n.port}` === lostMaster)!.stop();
  release();
  await lock;

  // That batch commits (the lost book's entries included: they were read before the loss)...
  await eventually('the batch in hand reaches Postgres', () => inPostgres(held), 30_000);
  // ...and the live book goes on: trades placed after the loss reach Postgres too.
  const after = new Set(trades.fills);
  for (let i = 0; i < 5; i++) await trades.trade(liveBook);
  const later = [...trades.fills].filter((f) => !after.has(f));
  assert.equal(later.length, 5);
  await eventually('trades on the live master after the loss reach Postgres', () => inPostgres(later), 20_000);
});
