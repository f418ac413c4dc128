/**
 * What `appendfsync always` costs against the default `everysec`: PlaceOrder scripts per
 * second straight into Redis with the AOF on, 64 in flight on one connection, both modes in
 * the same run on a fresh Redis each (docs/sync.md, "Persistence"). `always` closes the
 * one-second window in which an OS crash can lose acknowledged orders the sync has not
 * committed yet; this is its price on this machine's disk.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/fsync-cost.js [--seconds 10]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from '../src/devstack/ports.js';
import { startRedis } from '../src/devstack/redis.js';
import { validateInstruments } from '../src/domain/matching/instrument.js';
import { publishInstruments } from '../src/workers/orders/instruments-store.js';
import { OrderEngine } from '../src/workers/orders/order-engine.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' } } });
const SECONDS = Number(values.seconds);
const IN_FLIGHT = 64;
const INSTRUMENT = validateInstruments([{
  symbol: 'BENCH', tickSize: 1, lotSize: 1, minQty: 1, maxQty: 1000, maxPriceTicks: 1_000_000,
  referencePriceTicks: 10_000, bandBps: 1000, maxNotionalTicks: 1_000_000_000, positionLimitLots: 50_000_000,
}], 'bench')[0]!;

async function run(mode: 'everysec' | 'always'): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), `tierbook-fsync-${mode}-`));
  const server = await startRedis({ dir, port: await freePort(), appendOnly: true, extraArgs: ['--appendfsync', mode] });
  const redis = new Redis(server.url);
  try {
    await publishInstruments(redis, [INSTRUMENT]);
    const engine = new OrderEngine(redis);
    let n = 0;
    const until = Date.now() + SECONDS * 1000;
    const loop = async () => {
      while (Date.now() < until) {
        const i = n++;
        // Buys and sells around the reference: about half rest, half trade.
        await engine.place(`acct-${i % 8}`, {
          symbol: 'BENCH', side: i % 2 ? 'SELL' : 'BUY', type: 'LIMIT', tif: 'GTC', price: 10_000n + BigInt((i * 7919) % 11) - 5n,
          qty: 1n, coid: `o-${i}`, postOnly: false, stp: 'CANCEL_NEWEST',
        });
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, loop));
    return n / SECONDS;
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const everysec = await run('everysec');
const always = await run('always');
console.log(`appendfsync everysec: ${everysec.toFixed(0)} PlaceOrder scripts/s`);
console.log(`appendfsync always:   ${always.toFixed(0)} PlaceOrder scripts/s (${(always / everysec).toFixed(2)} of everysec)`);
