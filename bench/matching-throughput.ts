/**
 * Matching throughput straight into Redis: calls/s of the place-order Lua script next to a
 * trivial Lua script, measured in the same run on the same server, in three client modes:
 * one call at a time, many in flight on one connection (ioredis pipelines them on the socket
 * anyway), and the same with ioredis auto-pipelining (writes batched per event-loop tick).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/matching-throughput.js [seconds-per-cell]
 *
 * The order mix: alternating buys and sells with limit prices spread around the reference,
 * so about half rest and half cross (the book stays a few levels deep instead of growing).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../src/devstack/ports.js';
import { startRedis } from '../src/devstack/redis.js';
import { validateInstruments } from '../src/domain/matching/instrument.js';
import { instrumentKey } from '../src/domain/matching/keys.js';
import { fingerprint, type OrderInput } from '../src/domain/matching/order-input.js';
import { publishInstruments } from '../src/workers/orders/instruments-store.js';
import { OrderEngine } from '../src/workers/orders/order-engine.js';
import { orderScripts } from '../src/workers/orders/scripts.js';

const SECONDS = Number(process.argv[2] ?? 3);
const IN_FLIGHT = 64;
const INSTRUMENT = validateInstruments([{
  symbol: 'BENCH', tickSize: 1, lotSize: 1, minQty: 1, maxQty: 1000, maxPriceTicks: 1_000_000,
  referencePriceTicks: 10_000, bandBps: 1000, maxNotionalTicks: 1_000_000_000, positionLimitLots: 50_000_000,
}], 'bench')[0]!;

let n = 0;
/** The next order of the mix: deterministic, so runs compare. */
function nextOrder(): OrderInput {
  n++;
  const side = n % 2 === 0 ? 'BUY' : 'SELL';
  const offset = BigInt((n * 7919) % 11) - 5n; // -5..5 ticks around the reference
  return {
    symbol: 'BENCH', side, type: 'LIMIT', tif: 'GTC', price: 10_000n + offset, qty: BigInt(1 + (n % 5)),
    coid: '', postOnly: false, stp: 'CANCEL_NEWEST',
  };
}

/**
 * Redis-side microseconds per script call since the last reset: the script's own cost. The
 * book operations are FCALLs (src/shared/book-library.ts), the trivial script an EVALSHA.
 */
async function serverUsPerScript(redis: Redis, command: 'fcall' | 'evalsha'): Promise<number> {
  const line = (await redis.info('commandstats')).split('\n').find((l) => l.startsWith(`cmdstat_${command}:`));
  return Number(/usec_per_call=([\d.]+)/.exec(line ?? '')?.[1] ?? NaN);
}

async function measure(label: string, inFlight: number, once: () => Promise<unknown>): Promise<number> {
  const until = Date.now() + SECONDS * 1000;
  let calls = 0;
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (Date.now() < until) {
      await once();
      calls++;
    }
  }));
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  void label;
  return calls / secs;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tierbook-bench-'));
  const port = await freePort();
  const server = await startRedis({ dir, port, appendOnly: false });
  const rows: { script: string; mode: string; rate: number; us: number }[] = [];
  try {
    for (const mode of ['sequential', 'pipelined', 'auto-pipelining'] as const) {
      const redis = new Redis(server.url, { enableAutoPipelining: mode === 'auto-pipelining' });
      await redis.flushall();
      await publishInstruments(redis, [INSTRUMENT]);
      redis.defineCommand('trivial', { lua: 'return 1', numberOfKeys: 1 });
      const trivial = () => (redis as unknown as { trivial(k: string): Promise<number> }).trivial(instrumentKey('BENCH'));
      const scripts = orderScripts(redis);
      const engine = new OrderEngine(redis);
      const key = instrumentKey('BENCH');
      const place = () => {
        const o = nextOrder();
        return scripts.place(key, 'acct-' + (n % 4), '', fingerprint(o), o.side, o.type, o.tif, o.price.toString(), o.qty.toString(), '0', o.stp);
      };
      const withCoid = () => {
        const o = { ...nextOrder(), coid: `c${n}` };
        return engine.place('acct-' + (n % 4), o).catch(() => undefined);
      };
      const inFlight = mode === 'sequential' ? 1 : IN_FLIGHT;
      await place(); // loads the book library
      const cell = async (script: string, command: 'fcall' | 'evalsha', fn: () => Promise<unknown>) => {
        await redis.config('RESETSTAT');
        const rate = await measure(script, inFlight, fn);
        rows.push({ script, mode, rate, us: await serverUsPerScript(redis, command) });
      };
      await cell('trivial (return 1)', 'evalsha', trivial);
      await cell('place (no client id)', 'fcall', place);
      await cell('place + client id reservation', 'fcall', withCoid);
      redis.disconnect();
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const trivialOf = (mode: string) => rows.find((r) => r.mode === mode && r.script.startsWith('trivial'))!.rate;
  console.log(`\nmatching throughput, ${SECONDS}s per cell, ${IN_FLIGHT} in flight unless sequential\n`);
  console.log('| script | mode | calls/s | vs trivial | Redis us/script |');
  console.log('|---|---|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.script} | ${r.mode} | ${Math.round(r.rate).toLocaleString('en-US')} | ${(r.rate / trivialOf(r.mode)).toFixed(2)} | ${r.us.toFixed(1)} |`);
  }
  console.log(`\nload average while running: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${availableParallelism()} cores`);
}

await main();
