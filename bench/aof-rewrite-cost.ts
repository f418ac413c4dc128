/**
 * What an AOF rewrite costs the box, with and without RDB compression (`rdbcompression`):
 * the rewrite child's CPU (on two cores it takes one from the order path for as long as it
 * runs), its wall time, the fork's stall of Redis' main thread (`latest_fork_usec`), the
 * longest PING answer during the rewrite, and the file it writes. One Redis with the stack's
 * persistence settings, filled with real orders (PlaceOrder scripts, about half of them
 * trading, so hashes, indexes and event streams), then rounds of BGREWRITEAOF alternating
 * the setting (docs/retention.md, "AOF rewrites").
 *
 *   npx tsc -p tsconfig.json && node dist/bench/aof-rewrite-cost.js [--orders 300000] [--rounds 3]
 */
import { readdirSync, readFileSync, rmSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from '../src/devstack/ports.js';
import { startRedis } from '../src/devstack/redis.js';
import { validateInstruments } from '../src/domain/matching/instrument.js';
import { publishInstruments } from '../src/workers/orders/instruments-store.js';
import { OrderEngine } from '../src/workers/orders/order-engine.js';

const { values } = parseArgs({ options: { orders: { type: 'string', default: '300000' }, rounds: { type: 'string', default: '3' } } });
const ORDERS = Number(values.orders);
const ROUNDS = Number(values.rounds);
const IN_FLIGHT = 64;
const SYMBOLS = ['BENCH1', 'BENCH2', 'BENCH3', 'BENCH4'];
const INSTRUMENTS = validateInstruments(SYMBOLS.map((symbol) => ({
  symbol, tickSize: 1, lotSize: 1, minQty: 1, maxQty: 1000, maxPriceTicks: 1_000_000,
  referencePriceTicks: 10_000, bandBps: 1000, maxNotionalTicks: 1_000_000_000, positionLimitLots: 50_000_000,
})), 'bench');
const TICK_MS = 1000 / 100; // /proc/<pid>/stat counts CPU in clock ticks of 10 ms on Linux

async function fill(redis: Redis): Promise<void> {
  await publishInstruments(redis, INSTRUMENTS);
  const engine = new OrderEngine(redis);
  let n = 0;
  let shown = 0;
  const loop = async () => {
    while (n < ORDERS) {
      const i = n++;
      // Buys and sells around the reference, one lot each: about half rest, half trade.
      await engine.place(`acct-${i % 50}`, {
        symbol: SYMBOLS[i % SYMBOLS.length]!, side: i % 2 ? 'SELL' : 'BUY', type: 'LIMIT', tif: 'GTC',
        price: 10_000n + BigInt((i * 7919) % 11) - 5n, qty: 1n, coid: `o-${i}`, postOnly: false, stp: 'CANCEL_NEWEST',
      });
      if (n - shown >= ORDERS / 10) {
        shown = n;
        process.stderr.write(`filled ${n} / ${ORDERS} orders\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, loop));
}

function info(text: string, field: string): string {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
}

/** utime + stime of a process in ms, or undefined once it is gone. */
function cpuMs(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return undefined;
  }
}

function childrenOfPid(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function baseFileMb(dir: string): number {
  const aofDir = join(dir, 'appendonlydir');
  const base = readdirSync(aofDir).find((f) => f.includes('.base.'));
  return base ? statSync(join(aofDir, base)).size / 1e6 : 0;
}

interface Round { compression: 'yes' | 'no'; wallMs: number; childCpuMs: number; forkMs: number; maxPingMs: number; baseMb: number }

async function rewrite(redis: Redis, probe: Redis, redisPid: number, dir: string, compression: 'yes' | 'no'): Promise<Round> {
  await redis.config('SET', 'rdbcompression', compression);
  const t0 = performance.now();
  await redis.bgrewriteaof();
  let child: number | undefined;
  let childCpuMs = 0;
  let maxPingMs = 0;
  for (;;) {
    const p0 = performance.now();
    await probe.ping();
    maxPingMs = Math.max(maxPingMs, performance.now() - p0);
    child ??= childrenOfPid(redisPid)[0];
    if (child !== undefined) childCpuMs = cpuMs(child) ?? childCpuMs;
    if (info(await redis.info('persistence'), 'aof_rewrite_in_progress') === '0'
      && info(await redis.info('persistence'), 'aof_rewrite_scheduled') === '0') break;
    await sleep(5);
  }
  const wallMs = performance.now() - t0;
  const forkMs = Number(info(await redis.info('stats'), 'latest_fork_usec')) / 1000;
  return { compression, wallMs, childCpuMs, forkMs, maxPingMs, baseMb: baseFileMb(dir) };
}

const dir = mkdtempSync(join(tmpdir(), 'tierbook-aof-rewrite-'));
// The stack's persistence settings; no automatic rewrite while the bench fills Redis.
const server = await startRedis({ dir, port: await freePort(), appendOnly: true, extraArgs: ['--auto-aof-rewrite-percentage', '0'] });
const redis = new Redis(server.url);
const probe = new Redis(server.url);
try {
  await fill(redis);
  const mem = info(await redis.info('memory'), 'used_memory_human');
  const keys = info(await redis.info('keyspace'), 'db0');
  const redisPid = Number(info(await redis.info('server'), 'process_id'));
  const rounds: Round[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of r % 2 ? (['no', 'yes'] as const) : (['yes', 'no'] as const)) {
      const round = await rewrite(redis, probe, redisPid, dir, c);
      rounds.push(round);
      process.stderr.write(`round ${r + 1}, rdbcompression ${c}: child CPU ${round.childCpuMs.toFixed(0)} ms, wall ${round.wallMs.toFixed(0)} ms\n`);
    }
  }
  console.log(`\n${ORDERS} orders placed; Redis used memory ${mem}; ${keys}\n`);
  console.log('| rdbcompression | rewrite wall ms | child CPU ms | fork stall ms | longest PING ms | base file MB |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rounds) {
    console.log(`| ${r.compression} | ${r.wallMs.toFixed(0)} | ${r.childCpuMs.toFixed(0)} | ${r.forkMs.toFixed(1)} | ${r.maxPingMs.toFixed(1)} | ${r.baseMb.toFixed(1)} |`);
  }
  const mean = (c: 'yes' | 'no', k: 'childCpuMs' | 'wallMs') => {
    const xs = rounds.filter((r) => r.compression === c).map((r) => r[k]);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  console.log(`\nchild CPU without compression / with: ${(mean('no', 'childCpuMs') / mean('yes', 'childCpuMs')).toFixed(2)}`
    + `; wall: ${(mean('no', 'wallMs') / mean('yes', 'wallMs')).toFixed(2)}`);
} finally {
  redis.disconnect();
  probe.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
