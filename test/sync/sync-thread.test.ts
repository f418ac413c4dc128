/**
 * The sync thread against real Redis and Postgres, fed by the real matching engine: events
 * land once, positions match Redis, poison goes to the dead-letter stream, redelivery (fills
 * with their positions included) changes nothing, streams get trimmed, account versions move.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/shared/redis.js';
import pino from 'pino';
import postgres from 'postgres';
import { eventStreamKey } from '../../src/domain/events.js';
import { loadConfig } from '../../src/shared/config.js';
import { accountVersionKey, startSyncThread, type SyncThread } from '../../src/sync/index.js';
import { deadLetterKey } from '../../src/sync/dead-letter.js';
import { reapIdleConsumers } from '../../src/sync/consumer-reaper.js';
import { trimStream } from '../../src/sync/stream-trimmer.js';
import { startTestPostgres, type TestServer } from '../support/servers.js';
import { startSwitchableRedis, type SwitchableRedis } from '../support/test-redis.js';
import { EngineTrades } from './support/engine-trades.js';
import { eventually, pgPositions, redisPositions } from './support/pg-state.js';

describe('sync thread', () => {
  let redisServer: SwitchableRedis;
  let pgServer: TestServer;
  let redis: Redis;
  let sql: postgres.Sql;
  let sync: SyncThread;
  let config: ReturnType<typeof loadConfig>;

  before(async () => {
    [redisServer, pgServer] = await Promise.all([startSwitchableRedis(), startTestPostgres()]);
    redis = createRedis(redisServer.url);
    sql = postgres(pgServer.url, { onnotice: () => {} });
    config = loadConfig({
      TIERBOOK_REDIS_URL: redisServer.url,
      TIERBOOK_DATABASE_URL: pgServer.url,
      TIERBOOK_LOG_LEVEL: 'silent',
      TIERBOOK_INSTRUMENTS_FILE: '/nonexistent/instruments.json',
      TIERBOOK_SYNC_MAX_ATTEMPTS: '2',
      TIERBOOK_SYNC_RETAIN_MS: '0',
      TIERBOOK_SYNC_TRIM_INTERVAL_MS: '200',
      TIERBOOK_SYNC_DISCOVER_INTERVAL_MS: '100',
      // These tests create books at runtime, not listed in the instruments file.
      TIERBOOK_SYNC_SCAN_INTERVAL_MS: '100',
      TIERBOOK_SYNC_MAX_BACKOFF_MS: '200',
    });
    sync = await startSyncThread(config, pino({ level: 'silent' }));
  });

  after(async () => {
    await sync?.stop();
    redis?.disconnect();
    await sql?.end();
    await Promise.all([redisServer?.stop(), pgServer?.stop()]);
  });

  const count = async (table: 'orders' | 'fills') => Number((await sql.unsafe(`SELECT count(*) AS n FROM ${table}`))[0]?.n);

  /** Nothing left for the sync to read or acknowledge on these books. */
  const drained = async (symbols: string[]) => {
    for (const sym of symbols) {
      const stream = eventStreamKey(sym);
      if (Number(((await redis.xpending(stream, 'pg-sync')) as [number])[0]) !== 0) return false;
      const g = ((await redis.xinfo('GROUPS', stream)) as unknown[][]).find((x) => x[x.indexOf('name') + 1] === 'pg-sync') ?? [];
      const [last] = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1))[0] ?? [];
      if (last && g[g.indexOf('last-delivered-id') + 1] !== last) return false;
    }
    return true;
  };

  it('writes every order and fill once, with positions equal to Redis', async () => {
    const trades = await EngineTrades.on(redis, ['AAPL', 'MSFT', 'BTC-USD'], ['a1', 'a2', 'a3', 'a:4'], 7);
    for (let i = 0; i < 300; i++) await trades.trade();
    await eventually('all fills in Postgres', async () => (await count('fills')) === 300);
    await eventually('all orders final', async () => Number((await sql`SELECT count(*) AS n FROM orders WHERE status = 'FILLED'`)[0]?.n) === 600);
    assert.equal(await count('orders'), trades.orders.size);
    assert.deepEqual(new Set((await sql`SELECT fill_id FROM fills`).map((r) => String(r.fill_id))), trades.fills);
    await eventually('nothing pending', () => drained(trades.symbols));
    assert.deepEqual(await pgPositions(sql), await redisPositions(redis));
    const sums = await sql`SELECT symbol, sum(quantity)::text AS q FROM positions GROUP BY symbol`;
    assert.equal(sums.length, 3);
    for (const r of sums) assert.equal(r.q, '0', `positions of ${String(r.symbol)} sum to zero`);
    assert.ok(Number(await redis.get(accountVersionKey('a:4'))) > 0, 'account version bumped');
    const inst = await sql`SELECT symbol FROM instruments ORDER BY symbol`;
    assert.deepEqual(inst.map((r) => r.symbol), ['AAPL', 'BTC-USD', 'MSFT']);
  });

  it('ignores redelivered and out-of-date events, fills with their positions included', async () => {
    const stream = eventStreamKey('AAPL');
    // A group of our own keeps a copy of the engine's events (and keeps them from the trimmer).
    await redis.xgroup('CREATE', stream, 'replay', '$');
    try {
      const trades = await EngineTrades.on(redis, ['AAPL'], ['r1', 'r2'], 21);
      // Two trades between the same two accounts: the second fill carries positions that
      // supersede the first's, so replaying the first must not roll them back, and replaying
      // either must not apply its quantity again.
      await trades.trade('AAPL', 'r1', 'r2');
      await trades.trade('AAPL', 'r1', 'r2');
      const read = (await redis.xreadgroup('GROUP', 'replay', 'copy', 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
      const entries = read[0]![1].map(([, f]) => ({ k: f[f.indexOf('k') + 1]!, d: f[f.indexOf('d') + 1]! }));
      const fillEvents = entries.filter((e) => e.k === 'fill');
      assert.equal(fillEvents.length, 2);
      for (const e of fillEvents) assert.equal((JSON.parse(e.d) as { positions: unknown[] }).positions.length, 2, 'a fill carries both positions');
      const accepted = entries.find((e) => e.k === 'order' && (JSON.parse(e.d) as { change: string }).change === 'accepted')!;
      await eventually('the sync wrote both trades', async () => (await drained(['AAPL'])) && (await count('fills')) === 302);

      const orders = await sql`SELECT order_id, ver::text, status, filled::text FROM orders ORDER BY order_id`;
      const fills = await count('fills');
      const positions = await pgPositions(sql);
      assert.deepEqual(positions, await redisPositions(redis), 'Postgres equals Redis before the replays');
      // Replays, newest first then older: both fills (with their positions), and the first
      // maker's 'accepted' state although it has filled since.
      for (const e of [fillEvents[1]!, fillEvents[0]!, accepted]) await redis.xadd(stream, '*', 'k', e.k, 'd', e.d);
      await eventually('replays acknowledged', () => drained(['AAPL']));
      assert.equal(await count('fills'), fills, 'no fill twice');
      assert.deepEqual(await sql`SELECT order_id, ver::text, status, filled::text FROM orders ORDER BY order_id`, orders, 'no order went back');
      assert.deepEqual(await pgPositions(sql), positions, 'no position applied twice or rolled back');
      assert.deepEqual(await pgPositions(sql), await redisPositions(redis));
    } finally {
      await redis.xgroup('DESTROY', stream, 'replay');
    }
  });

  it('dead-letters poison events with their reason and keeps going', async () => {
    const stream = eventStreamKey('MSFT');
    await redis.xadd(stream, '*', 'k', 'order', 'd', '{not json');
    // Decodes, but Postgres refuses it: the price overflows bigint.
    const bad = { id: 'bad1', coid: 'c', acct: 'a1', sym: 'MSFT', side: 'BUY', type: 'LIMIT', tif: 'GTC', px: '99999999999999999999999', qty: '1', filled: '0', notional: '0', status: 'NEW', reason: '', post: false, stp: 'CANCEL_NEWEST', ctime: String(Date.now()), utime: String(Date.now()), ver: '1', seq: '1' };
    await redis.xadd(stream, '*', 'k', 'order', 'd', JSON.stringify({ change: 'accepted', order: bad }));
    const good = { ...bad, id: 'good1', px: '100' };
    await redis.xadd(stream, '*', 'k', 'order', 'd', JSON.stringify({ change: 'accepted', order: good }));
    await eventually('two dead letters', async () => (await redis.xlen(deadLetterKey(stream))) === 2);
    await eventually('good event written', async () => (await sql`SELECT 1 FROM orders WHERE order_id = 'good1'`).length === 1);
    const dead = await redis.xrange(deadLetterKey(stream), '-', '+');
    const reasons = dead.map(([, f]) => f[f.indexOf('reason') + 1]);
    assert.match(String(reasons[0]), /undecodable/);
    assert.match(String(reasons[1]), /postgres rejected it/);
    await eventually('nothing pending', async () => Number(((await redis.xpending(stream, 'pg-sync')) as [number])[0]) === 0);
    await eventually('stats count them', async () => sync.stats().deadLettered === 2, 5_000);
  });

  it('waits out a schema that does not match (a migration not applied) instead of dead-lettering', async () => {
    const stream = eventStreamKey('MSFT');
    const deadBefore = await redis.xlen(deadLetterKey(stream));
    await sql`ALTER TABLE orders RENAME COLUMN client_order_id TO client_order_id_gone`;
    const order = { id: 'schema1', coid: 'c-schema', acct: 'a1', sym: 'MSFT', side: 'BUY', type: 'LIMIT', tif: 'GTC', px: '100', qty: '1', filled: '0', notional: '0', status: 'NEW', reason: '', post: false, stp: 'CANCEL_NEWEST', ctime: String(Date.now()), utime: String(Date.now()), ver: '1', seq: '1' };
    try {
      await redis.xadd(stream, '*', 'k', 'order', 'd', JSON.stringify({ change: 'accepted', order }));
      // Long enough for every retry the poison path would make (attempts x back-off of 200 ms).
      await new Promise((r) => setTimeout(r, 2_000));
      assert.equal(await redis.xlen(deadLetterKey(stream)), deadBefore, 'nothing was dead-lettered');
      assert.ok(Number(((await redis.xpending(stream, 'pg-sync')) as [number])[0]) >= 1, 'the event is still pending');
    } finally {
      await sql`ALTER TABLE orders RENAME COLUMN client_order_id_gone TO client_order_id`;
    }
    await eventually('the event lands once the schema is back', async () => (await sql`SELECT 1 FROM orders WHERE order_id = 'schema1'`).length === 1);
    assert.equal(await redis.xlen(deadLetterKey(stream)), deadBefore);
  });

  it('forgets consumers that left nothing pending, never ones with pending entries', async () => {
    const stream = 'reaper-test'; // not a book stream: the sync leaves it alone
    await redis.xgroup('CREATE', stream, 'pg-sync', '$', 'MKSTREAM');
    await redis.xgroup('CREATECONSUMER', stream, 'pg-sync', 'ghost-host');
    await redis.xgroup('CREATE', stream, 'probe', '$');
    await redis.xadd(stream, '*', 'k', 'order', 'd', '{}');
    await redis.xreadgroup('GROUP', 'probe', 'busy-host', 'COUNT', 1, 'STREAMS', stream, '>');
    await new Promise((r) => setTimeout(r, 20));
    const removed = await reapIdleConsumers(redis, stream, 'pg-sync', config.sync.consumer, 10);
    assert.ok(removed.includes('ghost-host'));
    assert.deepEqual(await reapIdleConsumers(redis, stream, 'probe', 'x', 10), [], 'a consumer with a pending entry stays');
    await redis.xgroup('DESTROY', stream, 'probe');
  });

  it('never trims what another group has pending or not yet read', async () => {
    const stream = eventStreamKey('LAGGARD');
    const trades = await EngineTrades.on(redis, ['LAGGARD'], ['l1', 'l2'], 9);
    await redis.xgroup('CREATE', stream, 'laggard', '0', 'MKSTREAM');
    // A trade is three entries (two placements and the fill, which carries both final states).
    for (let i = 0; i < 150; i++) await trades.trade();
    const total = await redis.xlen(stream);
    assert.equal(total, 450, `${total} entries for 150 trades`);
    // The laggard group read 300 and acknowledged only the first 200.
    const read = (await redis.xreadgroup('GROUP', 'laggard', 'slow', 'COUNT', 300, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
    const ids = (read[0]?.[1] ?? []).map(([id]) => id);
    await redis.xack(stream, 'laggard', ...ids.slice(0, 200));
    await eventually('the sync wrote the book', async () => Number((await sql`SELECT count(*) AS n FROM fills WHERE symbol = 'LAGGARD'`)[0]?.n) === 150);
    await eventually('the sync acknowledged it all', () => drained(['LAGGARD']));
    const status = await trimStream(redis, stream, 0);
    assert.equal(status.trimmedBelow, ids[200], 'the bound is the laggard\'s oldest pending entry');
    const left = (await redis.xrange(stream, '-', '+')).map(([id]) => id);
    // Every entry from the laggard's oldest pending one on is still there, unread ones too.
    assert.deepEqual(left.slice(left.indexOf(ids[200]!)), [...ids.slice(200), ...left.slice(left.indexOf(ids[299]!) + 1)]);
    assert.equal(left.length - left.indexOf(ids[200]!), total - 200, 'pending and unread entries stay');
    await redis.xgroup('DESTROY', stream, 'laggard');
  });

  it('trims acknowledged entries and picks up books created at runtime', async () => {
    const trades = await EngineTrades.on(redis, ['NEW-SYM'], ['b1', 'b2'], 3);
    for (let i = 0; i < 50; i++) await trades.trade();
    await eventually('new book written', async () => Number((await sql`SELECT count(*) AS n FROM fills WHERE symbol = 'NEW-SYM'`)[0]?.n) === 50);
    // ~ trimming removes whole macro nodes (100 entries each by default), so push past one.
    for (let i = 0; i < 100; i++) await trades.trade();
    const written = await redis.xlen(eventStreamKey('NEW-SYM'));
    await eventually('all 150 fills written', async () => Number((await sql`SELECT count(*) AS n FROM fills WHERE symbol = 'NEW-SYM'`)[0]?.n) === 150);
    await eventually('nothing pending', () => drained(['NEW-SYM']));
    // Everything is acknowledged and nothing is retained (TIERBOOK_SYNC_RETAIN_MS=0): at most
    // the last, partly filled macro node of 100 entries may stay.
    await eventually(`stream trimmed from ${written} entries`, async () => (await redis.xlen(eventStreamKey('NEW-SYM'))) <= 100, 10_000);
  });
});
