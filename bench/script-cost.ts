/**
 * Redis time per book script: what each operation costs inside Redis (Lua, cjson, commands),
 * from `INFO commandstats` (usec per FCALL or EVALSHA: the book functions, and the plain
 * client order id scripts the sweep runs beside them) around a batch of one kind of operation at a
 * time, on a fresh Redis of its own. Client and network time are not in it, so the figures
 * hold on a busy box too (Redis' own CPU time still shares the cores).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/script-cost.js [--n 2000] [--callgrind]
 *
 * --callgrind runs Redis under valgrind's callgrind and reports, beside the µs, the
 * instructions Redis spent inside the script calls (kIr per call): the figure to compare
 * script versions with on a busy box (bench/callgrind-redis.ts; use --n 200 or so).
 *
 * Operations: a resting limit order (with and without a client order id), a taker that
 * fills against 3 resting orders, a cancel, an amend (quantity down), and the retention sweep
 * per order removed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from '../src/devstack/ports.js';
import { startRedis } from '../src/devstack/redis.js';
import { validateInstruments } from '../src/domain/matching/instrument.js';
import type { OrderInput } from '../src/domain/matching/order-input.js';
import { publishInstruments } from '../src/workers/orders/instruments-store.js';
import { OrderEngine } from '../src/workers/orders/order-engine.js';
import { sweepFinishedOrders } from '../src/sync/order-sweeper.js';
import { startCallgrindRedis, type CallgrindRedis } from './callgrind-redis.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '2000' }, callgrind: { type: 'boolean', default: false } } });
const N = Number(values.n);
const LIMITS = {
  tickSize: 1, lotSize: 1, minQty: 1, maxQty: 1000, maxPriceTicks: 1_000_000,
  referencePriceTicks: 10_000, bandBps: 1000, maxNotionalTicks: 1_000_000_000, positionLimitLots: 50_000_000,
};
// WARM is a book of its own for the warm-up below.
const INSTRUMENTS = validateInstruments([{ symbol: 'BENCH', ...LIMITS }, { symbol: 'WARM', ...LIMITS }], 'bench');

const order = (o: Partial<OrderInput>): OrderInput => ({
  symbol: 'BENCH', side: 'BUY', type: 'LIMIT', tif: 'GTC', price: 9_990n, qty: 1n, coid: '', postOnly: false, stp: 'CANCEL_NEWEST', ...o,
});

/** Total script calls (FCALL and EVALSHA) and their microseconds so far. */
async function scriptStats(redis: Redis): Promise<{ calls: number; usec: number }> {
  const stats = await redis.info('commandstats');
  let calls = 0;
  let usec = 0;
  for (const m of stats.matchAll(/cmdstat_(?:fcall|evalsha):calls=(\d+),usec=(\d+)/g)) {
    calls += Number(m[1]);
    usec += Number(m[2]);
  }
  return { calls, usec };
}

/** Redis µs per script call of what `run` does (run makes `calls` script calls). */
async function measure(redis: Redis, label: string, run: () => Promise<unknown>): Promise<void> {
  const a = await scriptStats(redis);
  let ir = NaN;
  if (grind) ir = await grind.scriptInstructions(run);
  else await run();
  const b = await scriptStats(redis);
  const calls = b.calls - a.calls;
  const per = (x: number) => (calls ? x / calls : 0);
  const kir = grind ? `  ${(per(ir) / 1000).toFixed(1).padStart(7)} kIr per call` : '';
  console.log(`${label.padEnd(44)} ${per(b.usec - a.usec).toFixed(1).padStart(7)} µs per call${kir}  (${calls} calls)`);
}

const dir = mkdtempSync(join(tmpdir(), 'tierbook-script-cost-'));
const port = await freePort();
const grind: CallgrindRedis | undefined = values.callgrind ? await startCallgrindRedis(dir, port) : undefined;
const server = grind ?? await startRedis({ dir, port, appendOnly: false });
const redis = new Redis(server.url);
try {
  await publishInstruments(redis, INSTRUMENTS);
  const engine = new OrderEngine(redis);
  // Every script runs once before any row, on another book: the rows measure calls of a
  // loaded script (no EVAL compile after NOSCRIPT, no first FUNCTION LOAD in them).
  const warm = await engine.place('acct-w', order({ symbol: 'WARM', qty: 2n }));
  await engine.amend('acct-w', { orderId: warm.order.id }, 0n, 1n);
  await engine.cancel('acct-w', { orderId: warm.order.id });
  await sweepFinishedOrders(redis, 'WARM', Date.now() + 1000, { retentionMs: 0, idempotencyWindowMs: 3_600_000 });
  console.log(`Redis time per book script (INFO commandstats), ${N} calls per row, redis-server ${(await redis.info('server')).match(/redis_version:(\S+)/)?.[1]}`);
  const resting: string[] = [];
  await measure(redis, 'place: resting limit, no client order id', async () => {
    // 2 lots each, so that the amend below can take one away.
    for (let i = 0; i < N; i++) resting.push((await engine.place('acct-r', order({ price: 9_990n - BigInt(i % 50), qty: 2n }))).order.id);
  });
  await measure(redis, 'place: resting limit with client order id', async () => {
    for (let i = 0; i < N; i++) await engine.place('acct-c', order({ price: 9_900n - BigInt(i % 50), coid: `c-${i}` }));
  });
  await measure(redis, 'place: retry of a client order id', async () => {
    for (let i = 0; i < N; i++) await engine.place('acct-c', order({ price: 9_900n - BigInt(i % 50), coid: `c-${i}` }));
  });
  await measure(redis, 'cancel', async () => {
    for (const id of resting.slice(0, N / 2)) await engine.cancel('acct-r', { orderId: id });
  });
  await measure(redis, 'amend: quantity down keeps priority', async () => {
    for (const id of resting.slice(N / 2, N)) await engine.amend('acct-r', { orderId: id }, 0n, 1n);
  });
  // Makers for takers: 3 asks of 1 lot at one price per taker.
  const takers = Math.floor(N / 4);
  for (let i = 0; i < takers * 3; i++) await engine.place('acct-m', order({ side: 'SELL', price: 10_010n }));
  await measure(redis, 'place: taker filling 3 resting orders (IOC)', async () => {
    for (let i = 0; i < takers; i++) await engine.place('acct-t', order({ side: 'BUY', tif: 'IOC', price: 10_010n, qty: 3n }));
  });
  await measure(redis, 'sweep: retention, per 200 orders removed', async () => {
    // Every finished order is committed here (no sync): the bound is now.
    await sweepFinishedOrders(redis, 'BENCH', Date.now() + 1000, { retentionMs: 0, idempotencyWindowMs: 3_600_000 });
  });
} finally {
  redis.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
