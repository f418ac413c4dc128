/**
 * Sync throughput at saturation next to the raw speed of the same Postgres, in one run:
 *   node dist/bench/sync-throughput.js [trades=40000]
 * 1. COPY rows/s into a table shaped like `fills` (the ceiling for bulk loading);
 * 2. batched INSERT ... SELECT unnest(...) rows/s into the same shape;
 * 3. the sync thread draining a backlog of `trades` trades (5 stream entries each: 4 order
 *    states and 1 fill carrying 2 positions): committed entries/s;
 * 4. append -> commit lag at a steady 20% of that rate (worst 1 s window over 5 s);
 * 5. the same lag while the real matching engine is driven as fast as 8 clients can.
 * Postgres runs with its normal durability settings (fsync on), in a temporary folder.
 */
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pino from 'pino';
import postgres from 'postgres';
import { freePort } from '../src/devstack/ports.js';
import { startPostgres } from '../src/devstack/postgres.js';
import { eventStreamKey } from '../src/domain/events.js';
import { loadConfig } from '../src/shared/config.js';
import { startSyncThread } from '../src/sync/index.js';
import { migrate } from '../src/sync/migrate.js';
import { startTestRedis } from '../test/support/servers.js';
import { EventProducer } from './event-producer.js';
import { OrderFlow } from '../test/sync/support/order-flow.js';
import { fromRoot } from '../src/shared/paths.js';
import { loadInstrumentsFile, publishInstruments } from '../src/workers/orders/index.js';

const TRADES = Number(process.argv[2] ?? 40_000);
const RAW_ROWS = 200_000;
const SYMBOLS = ['AAPL', 'MSFT', 'BTC-USD', 'ETH-USD'];
const ACCOUNTS = Array.from({ length: 50 }, (_, i) => `acct-${i}`);

const dir = mkdtempSync(join(tmpdir(), 'tierbook-bench-pg-'));
chmodSync(dir, 0o755);
const pgProc = await startPostgres({ dir, port: await freePort() });
const redisServer = await startTestRedis();
const sql = postgres(pgProc.url, { onnotice: () => {}, max: 4 });
const redis = new Redis(redisServer.url);
const rows: [string, string, string][] = [];
try {
  await migrate(sql);
  await sql`CREATE TABLE raw_fills (LIKE fills INCLUDING DEFAULTS)`;
  await sql`CREATE UNIQUE INDEX ON raw_fills (fill_id, executed_at)`;

  // 1. COPY in text format, one stream.
  const now = Date.now();
  const line = (i: number, p: string) => `${p}${i}\tAAPL\t10000\t5\t${new Date(now + i).toISOString()}\tm${i}\tmc${i}\tacct-${i % 50}\tBUY\tt${i}\ttc${i}\tacct-${(i + 1) % 50}\tSELL\n`;
  let t0 = performance.now();
  const copy = await sql`COPY raw_fills FROM STDIN`.writable();
  await pipeline(Readable.from((function* () {
    for (let i = 0; i < RAW_ROWS; i += 1000) {
      let chunk = '';
      for (let j = i; j < i + 1000; j++) chunk += line(j, 'c');
      yield chunk;
    }
  })()), copy);
  const copyRate = RAW_ROWS / ((performance.now() - t0) / 1000);
  rows.push(['raw COPY into a fills-shaped table', fmt(copyRate), 'rows/s']);

  // 2. Batched INSERT with unnest arrays, 5,000 rows per statement, one transaction each.
  t0 = performance.now();
  for (let i = 0; i < RAW_ROWS; i += 5000) {
    const ids = Array.from({ length: 5000 }, (_, j) => `u${i + j}`);
    await sql`INSERT INTO raw_fills SELECT u.id, 'AAPL', 10000, 5, tierbook_ms(${String(now)}::bigint + u.n), 'm', 'mc', 'a', 'BUY', 't', 'tc', 'b', 'SELL'
      FROM unnest(${ids}::text[], ${ids.map((_, j) => String(i + j))}::bigint[]) AS u(id, n) ON CONFLICT DO NOTHING`;
  }
  const insertRate = RAW_ROWS / ((performance.now() - t0) / 1000);
  rows.push(['batched INSERT ... unnest (5,000/stmt)', fmt(insertRate), 'rows/s']);

  // 3. Saturation: a backlog first, then the sync drains it.
  const producer = new EventProducer(redis, SYMBOLS, ACCOUNTS, 9);
  for (let i = 0; i < TRADES; i += 200) await Promise.all(Array.from({ length: 200 }, () => producer.trade()));
  const entries = TRADES * 5;
  const config = loadConfig({
    TIERBOOK_REDIS_URL: redisServer.url,
    TIERBOOK_DATABASE_URL: pgProc.url,
    TIERBOOK_LOG_LEVEL: 'warn',
    TIERBOOK_INSTRUMENTS_FILE: '/nonexistent',
    TIERBOOK_SYNC_TRIM_INTERVAL_MS: '1000',
    TIERBOOK_SYNC_DISCOVER_INTERVAL_MS: '200',
  });
  t0 = performance.now();
  const sync = await startSyncThread(config, pino({ level: 'warn' }));
  const drained = async () => {
    if (Number((await sql`SELECT count(*) AS n FROM fills`)[0]?.n) !== producer.fills.size) return false;
    for (const s of SYMBOLS) if (Number(((await redis.xpending(eventStreamKey(s), 'pg-sync')) as [number])[0]) > 0) return false;
    return true;
  };
  while (!(await drained())) await sleep(20);
  const syncSecs = (performance.now() - t0) / 1000;
  rows.push([`sync thread, backlog of ${fmt(entries)} entries`, fmt(entries / syncSecs), 'entries/s committed']);
  rows.push(['  of which fills (1 row + 2 position upserts)', fmt(TRADES / syncSecs), 'fills/s']);
  rows.push(['  largest batch target reached', fmt(sync.stats().batchTarget), 'entries']);

  // 4. Lag at a steady 20% of the measured saturation rate, for 5 s.
  const rate = Math.max(100, Math.floor(entries / syncSecs / 5 / 5)); // trades/s
  let worstP50 = 0;
  let worstP99 = 0;
  // Lag windows turn over once per trim pass and are posted once a second: the first ones
  // after the drain still hold the backlog's lag, so measure from 4 s on.
  const steadyFrom = Date.now() + 4_000;
  const until = Date.now() + 9_000;
  while (Date.now() < until) {
    const tick = Date.now();
    await Promise.all(Array.from({ length: Math.ceil(rate / 100) }, () => producer.trade()));
    await sleep(Math.max(0, 10 - (Date.now() - tick)));
    const s = sync.stats();
    if (process.env.BENCH_VERBOSE) console.error(JSON.stringify(s));
    if (Date.now() > steadyFrom) {
      worstP50 = Math.max(worstP50, s.lagP50Ms);
      worstP99 = Math.max(worstP99, s.lagP99Ms);
    }
  }
  rows.push([`lag at ${fmt(rate * 5)} entries/s steady, worst 1 s window`, `p50 ${worstP50} / p99 ${worstP99}`, 'ms append -> commit']);

  // 5. Lag while the real matching engine runs flat out (8 clients calling the Lua book
  //    scripts directly: the order path without the gateway hop).
  const instruments = loadInstrumentsFile(fromRoot('config', 'instruments.json'));
  await publishInstruments(redis, instruments);
  const flows = Array.from({ length: 8 }, (_, c) => new OrderFlow(redis, instruments, [`b${c}x`, `b${c}y`], 100 + c));
  const engineFrom = Date.now() + 3_000;
  const engineUntil = Date.now() + 8_000;
  const before = sync.stats().committed;
  let p50s: number[] = [];
  let p99 = 0;
  const watcher = (async () => {
    while (Date.now() < engineUntil) {
      await sleep(1_000);
      const st = sync.stats();
      if (Date.now() > engineFrom) {
        p50s.push(st.lagP50Ms);
        p99 = Math.max(p99, st.lagP99Ms);
      }
    }
  })();
  await Promise.all(flows.map(async (f) => {
    while (Date.now() < engineUntil) await f.step();
  }));
  await watcher;
  const engineRate = (sync.stats().committed - before) / 8;
  p50s = p50s.sort((a, b) => a - b);
  rows.push([`lag, engine flat out (~${fmt(engineRate)} entries/s)`, `p50 ${p50s[p50s.length >> 1] ?? 0} / p99 ${p99}`, 'ms append -> commit (median p50, worst p99 of 1 s windows)']);
  await sync.stop();
  rows.push(['ratio sync entries/s : COPY rows/s', (entries / syncSecs / copyRate).toFixed(2), '']);
} finally {
  redis.disconnect();
  await sql.end({ timeout: 2 });
  await redisServer.stop();
  await pgProc.stop();
  rmSync(dir, { recursive: true, force: true });
}

const w = [Math.max(...rows.map((r) => r[0].length)), Math.max(...rows.map((r) => r[1].length))];
console.log(`\nsync throughput (${TRADES} trades, ${new Date().toISOString()})`);
for (const [a, b, c] of rows) console.log(`${a.padEnd(w[0] ?? 0)}  ${b.padStart(w[1] ?? 0)}  ${c}`);

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
