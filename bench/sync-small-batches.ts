/**
 * What one small sync batch costs: the batches a lightly loaded stack commits (the sync's
 * 10 ms linger closes them at a few trades each; at 300 PlaceOrder/s that is about a hundred
 * batches a second). Writes `--batches` batches of `--trades` fills each through the real
 * writer (src/sync/pg-writer.ts) into a private Postgres, one after the other, and prints per
 * batch: wall time, this process's CPU and Postgres' CPU (all its processes, from /proc).
 *
 *   node dist/bench/sync-small-batches.js [--batches 2000] [--trades 3]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { migrate } from '../src/sync/migrate.js';
import { planBatch } from '../src/sync/batch-plan.js';
import { writePlan } from '../src/sync/pg-writer.js';
import { fillEntries, FillHistory } from '../test/analytics/support/fill-history.js';
import { startTestPostgres } from '../test/support/servers.js';

const { values } = parseArgs({ options: { batches: { type: 'string', default: '2000' }, trades: { type: 'string', default: '3' } } });
const BATCHES = Number(values.batches);
const TRADES = Number(values.trades);
const TICK_MS = 1000 / 100; // USER_HZ

/** CPU ms of a process and all its descendants (Postgres forks a backend per connection). */
function treeCpuMs(pid: number): number {
  let ms = 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    ms += (Number(stat[11]) + Number(stat[12])) * TICK_MS; // utime, stime
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ').filter(Boolean)) ms += treeCpuMs(Number(c));
    }
  } catch {
    // the process ended meanwhile
  }
  return ms;
}

const pg = await startTestPostgres();
const sql = postgres(pg.url, { onnotice: () => {}, max: 1 });
try {
  await migrate(sql);
  const history = new FillHistory({ seed: 7, symbols: ['AAPL', 'MSFT'], accounts: ['a1', 'a2', 'a3', 'a4'], startMs: Date.now() - 3_600_000, meanGapMs: 10 });
  // Warm-up: connections, prepared statements, catalog caches.
  for (let i = 0; i < 50; i++) await writePlan(sql, planBatch(fillEntries(history.add(TRADES))));
  const cpu0 = process.cpuUsage();
  const pg0 = treeCpuMs(pg.pid);
  const t0 = performance.now();
  for (let i = 0; i < BATCHES; i++) {
    await writePlan(sql, planBatch(fillEntries(history.add(TRADES))));
    if ((i + 1) % 500 === 0) console.log(`  ${i + 1} / ${BATCHES} batches`);
  }
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const pgMs = treeCpuMs(pg.pid) - pg0;
  const per = (ms: number) => ((ms * 1000) / BATCHES).toFixed(0);
  console.log(`\n${BATCHES} batches of ${TRADES} fills:\n`);
  console.log('| per batch | µs |');
  console.log('| --- | ---: |');
  console.log(`| wall | ${per(wall)} |`);
  console.log(`| writer CPU (this process) | ${per((cpu.user + cpu.system) / 1000)} |`);
  console.log(`| Postgres CPU | ${per(pgMs)} |`);
} finally {
  await sql.end();
  await pg.stop();
}
