/**
 * Crash recovery under a continuous order flow through the real matching engine: the standalone sync process is killed with
 * SIGKILL in the middle of its batches and restarted (as the same consumer, and as another
 * one that must reclaim the dead one's entries), and Postgres is stopped and started again.
 * After draining, every acknowledged order and fill is in Postgres exactly once, Postgres
 * positions equal Redis positions, and positions per symbol sum to zero.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { eventStreamKey } from '../../src/domain/events.js';
import { deadLetterKey } from '../../src/sync/dead-letter.js';
import { startTestRedis, type TestServer } from '../support/servers.js';
import { bookStateKey } from '../../src/domain/matching/keys.js';
import { fromRoot } from '../../src/shared/paths.js';
import { loadInstrumentsFile, publishInstruments } from '../../src/workers/orders/index.js';
import { OrderFlow } from './support/order-flow.js';
import { eventually, pgPositions, redisPositions } from './support/pg-state.js';
import { startRestartablePostgres, type RestartablePostgres } from './support/restartable-postgres.js';
import { spawnSync, type SyncProcess } from './support/sync-process.js';

const INSTRUMENTS = loadInstrumentsFile(fromRoot('config', 'instruments.json'));
const SYMBOLS = INSTRUMENTS.map((i) => i.symbol);
/** Parallel clients, each with its own accounts; they trade with each other on every book. */
const CLIENTS = 4;

describe('sync crash recovery', () => {
  let redisServer: TestServer;
  let pg: RestartablePostgres;
  let redis: Redis;
  let sql: postgres.Sql;
  let logDir: string;
  let current: SyncProcess | undefined;

  before(async () => {
    [redisServer, pg] = await Promise.all([startTestRedis(), startRestartablePostgres()]);
    redis = new Redis(redisServer.url);
    sql = postgres(pg.url, { onnotice: () => {}, max: 2 });
    logDir = mkdtempSync(join(tmpdir(), 'tierbook-sync-crash-'));
  });

  after(async () => {
    await current?.kill();
    redis?.disconnect();
    await sql?.end({ timeout: 1 });
    await Promise.all([redisServer?.stop(), pg?.destroy()]);
    if (logDir && !process.env.KEEP_SYNC_LOGS) rmSync(logDir, { recursive: true, force: true });
  });

  const start = (consumer: string) =>
    spawnSync(
      {
        TIERBOOK_REDIS_URL: redisServer.url,
        TIERBOOK_DATABASE_URL: pg.url,
        TIERBOOK_LOG_LEVEL: 'warn',
        TIERBOOK_INSTRUMENTS_FILE: '/nonexistent/instruments.json',
        TIERBOOK_SYNC_CONSUMER: consumer,
        TIERBOOK_SYNC_CLAIM_IDLE_MS: '1000',
        TIERBOOK_SYNC_MAX_BACKOFF_MS: '300',
        TIERBOOK_SYNC_RETAIN_MS: '0',
        TIERBOOK_SYNC_TRIM_INTERVAL_MS: '250',
        TIERBOOK_SYNC_DISCOVER_INTERVAL_MS: '200',
        // These tests create books at runtime, not listed in the instruments file.
        TIERBOOK_SYNC_SCAN_INTERVAL_MS: '200',
      },
      join(logDir, 'sync.log'),
    );

  /** Fills committed so far, or -1 while Postgres is down or not migrated yet. */
  const committed = async () => {
    try {
      return Number((await sql`SELECT count(*) AS n FROM fills`)[0]?.n);
    } catch {
      return -1;
    }
  };

  /** Waits until the running sync has committed something new: it is mid-flow, not starting. */
  const inFlow = async () => {
    const base = await committed();
    await eventually('the sync committing', async () => (await committed()) > base, 20_000);
    await sleep(Math.floor(Math.random() * 40));
  };

  it('loses and duplicates nothing across kill -9 and a Postgres restart', { timeout: 120_000 }, async (t) => {
    await publishInstruments(redis, INSTRUMENTS);
    const flows = Array.from({ length: CLIENTS }, (_, c) => new OrderFlow(redis, INSTRUMENTS, [`c${c}-a`, `c${c}-b`, `c${c}-c`], 11 + c));
    let producing = true;
    const flow = Promise.all(flows.map(async (f) => {
      while (producing) await f.step();
    }));

    current = start('host-a');
    await inFlow();
    await current.kill(); // host-a dies, usually with a batch in hand; host-b must reclaim its entries
    // What host-a left pending (it may have died right after a commit, with nothing in hand).
    let leftByA = 0;
    for (const sym of SYMBOLS) {
      const byConsumer = (await redis.xpending(eventStreamKey(sym), 'pg-sync', '-', '+', 100_000, 'host-a').catch(() => [])) as unknown[];
      leftByA += byConsumer.length;
    }
    current = start('host-b');
    await inFlow();
    await current.kill(); // host-b comes back as itself and re-reads its own pending entries
    current = start('host-b');
    await inFlow();
    await pg.down(); // Postgres goes away under load: the sync must hold its batch and retry
    await sleep(1_500);
    await pg.up();
    await inFlow();
    await current.kill();
    current = start('host-b');
    await inFlow();
    producing = false;
    await flow;

    // What the engine holds: every fill id it issued and every order it acknowledged.
    const issued = new Set<string>();
    for (const s of SYMBOLS) {
      const n = Number((await redis.hget(bookStateKey(s), 'fill')) ?? 0);
      for (let i = 1; i <= n; i++) issued.add(`${s}:F${i}`);
    }
    const acknowledged = new Set(flows.flatMap((f) => [...f.acknowledged]));
    const refused = flows.reduce((n, f) => n + f.refused, 0);
    t.diagnostic(`${acknowledged.size} orders and ${issued.size} fills through 3 kills and a Postgres restart; ${refused} refusals`);
    // The sync's crashes and the Postgres outage are invisible to the order path: its calls
    // were refused only for their own reasons, and most of them were acknowledged.
    for (const f of flows) assert.deepEqual(f.unexpectedRefusals(), {}, 'no order call failed because of the sync or Postgres');
    assert.ok(refused < acknowledged.size, `${refused} refusals against ${acknowledged.size} acknowledged orders`);
    await eventually('all fills committed', async () => (await committed()) === issued.size, 60_000);
    await eventually('nothing pending', async () => {
      for (const s of SYMBOLS) if (Number(((await redis.xpending(eventStreamKey(s), 'pg-sync')) as [number])[0]) !== 0) return false;
      return true;
    });
    await current.stop();
    current = undefined;

    const [fills] = await sql`SELECT count(*)::int AS n, count(DISTINCT fill_id)::int AS d FROM fills`;
    assert.equal(fills?.n, issued.size, 'every fill is in Postgres');
    assert.equal(fills?.d, issued.size, 'no fill twice');
    const ids = new Set((await sql`SELECT fill_id FROM fills`).map((r) => String(r.fill_id)));
    assert.deepEqual(ids, issued);

    const orders = new Map((await sql`SELECT order_id, status, filled::text, quantity::text, price::text, ver::text FROM orders`)
      .map((o) => [String(o.order_id), [o.status, o.filled, o.quantity, o.price, o.ver]]));
    for (const id of acknowledged) assert.ok(orders.has(id), `acknowledged order ${id} is in Postgres`);
    let inRedis = 0;
    for (const s of SYMBOLS) {
      let cursor = '0';
      do {
        const [next, keys] = (await redis.scan(cursor, 'MATCH', `{bk:${s}}:o:*`, 'COUNT', 1000)) as [string, string[]];
        cursor = next;
        for (const k of keys) {
          const h = await redis.hgetall(k);
          inRedis++;
          assert.deepEqual(orders.get(h.id as string), [h.status, h.filled, h.qty, h.px, h.ver], `order ${h.id} as in Redis`);
        }
      } while (cursor !== '0');
    }
    assert.equal(orders.size, inRedis, 'every order once, none extra');

    assert.deepEqual(await pgPositions(sql), await redisPositions(redis), 'Postgres positions equal Redis');
    const sums = await sql`SELECT symbol, sum(quantity)::text AS q FROM positions GROUP BY symbol`;
    assert.ok(sums.length > 0);
    for (const r of sums) assert.equal(r.q, '0', `positions of ${String(r.symbol)} sum to zero`);
    for (const s of SYMBOLS) assert.equal(await redis.exists(deadLetterKey(eventStreamKey(s))), 0, 'nothing dead-lettered');
    const log = readFileSync(join(logDir, 'sync.log'), 'utf8');
    t.diagnostic(`host-a left ${leftByA} entries pending when it was killed`);
    if (leftByA > 0) assert.match(log, /reclaimed stale entries/, 'host-b reclaimed host-a entries');
    assert.match(log, /postgres unavailable/, 'the outage was noticed and waited out');
  });
});
