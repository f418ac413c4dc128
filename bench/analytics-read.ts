/**
 * The read-heavy analytics benchmark: GetPortfolio, GetOrderBook and GetCandles from a
 * premium (ELITE) and a shared (PRO) account at once, through nginx, closed loop, with ghz.
 * Reports per tier calls/s, p50/p99 and the cache hit rate (from the cache's own counters in
 * Redis), then the baseline echo behind its own nginx with the same ghz settings in the same
 * run, and the ratio. The stack must be up (`bash scripts/stack.sh up --detach`; set the
 * TIERBOOK_* variables to point at another one).
 *
 *   node dist/bench/analytics-read.js [--duration 20] [--concurrency 8] [--connections 2] [--rps 0] [--history 0]
 *
 * `--history N` first gives each reader's symbol N older fills, inserted straight into
 * Postgres (plain SQL, so the same command seeds a stack from before the rollups) and spread
 * over the 500 minutes GetCandles reads, with the book's fill counter moved past them: what a
 * symbol with a trading history looks like to a candle read.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/shared/config.js';
import type { Sql } from 'postgres';
import { bookStateKey } from '../src/domain/matching/keys.js';
import { createSql } from '../src/shared/postgres.js';
import { projectRoot } from '../src/shared/paths.js';
import { createAccount } from '../src/shared/accounts-store.js';
import { CACHE_STATS_KEY, summarizeCacheStats } from '../src/workers/analytics/cache-stats.js';
import { OrderService, PlaceOrderRequestSchema, PlaceOrderResponseSchema } from '../src/gen/tierbook/v1/order_service_pb.js';
import { OrderType, Side } from '../src/gen/tierbook/v1/types_pb.js';
import { findGhz, runGhz } from '../loadtest/ghz-process.js';
import { mergeStreams, type GhzReport, type StreamResult } from '../loadtest/ghz-result.js';
import { startBaselineBehindNginx } from '../loadtest/baseline-nginx.js';
import { TestClient } from '../test/support/grpc-client.js';

const { values } = parseArgs({ options: {
  duration: { type: 'string', default: '20' },
  concurrency: { type: 'string', default: '8' },
  connections: { type: 'string', default: '2' },
  rps: { type: 'string', default: '0' },
  history: { type: 'string', default: '0' },
} });
const durationSec = Number(values.duration);
const concurrency = Number(values.concurrency);
const connections = Number(values.connections);
/** Calls/s per ghz process, open loop; 0 = closed loop (as fast as it goes). */
const rps = Number(values.rps);
const history = Number(values.history);

const config = loadConfig();
const host = `127.0.0.1:${config.nginxPort}`;
const dir = join(projectRoot, 'bench', 'results', new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, ''));
mkdirSync(dir, { recursive: true });
const ghz = findGhz(projectRoot);
if (!ghz) throw new Error('ghz not found (.tools/bin/ghz, GOPATH/bin or PATH)');

const CALLS = [
  { method: 'GetPortfolio', data: {} },
  { method: 'GetOrderBook', data: { depth: 10 } },
  { method: 'GetCandles', data: { interval: 'CANDLE_INTERVAL_1M' } },
] as const;

/** Seeds each reader with fills and a two-sided book on its symbol, so every read has work. */
async function seed(readerKey: string, makerKey: string, symbol: string, mid: bigint, tick: bigint): Promise<void> {
  const reader = new TestClient(host, readerKey);
  const maker = new TestClient(host, makerKey);
  const place = (c: TestClient, side: Side, px: bigint, qty: bigint) =>
    c.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, { symbol, side, type: OrderType.LIMIT, priceTicks: px, quantityLots: qty });
  for (let i = 0n; i < 5n; i++) {
    await place(maker, Side.SELL, mid + i * tick, 3n);
    await place(reader, Side.BUY, mid + i * tick, 2n); // a fill for the reader
    await place(maker, Side.BUY, mid - (i + 10n) * tick, 4n); // depth on the bid side
  }
  reader.close();
  maker.close();
}

/** Older fills on `symbol` (ids F1..Fn, the last 500 minutes), before any engine fill of it. */
async function seedHistory(sql: Sql, redis: Redis, symbol: string, mid: bigint, n: number): Promise<void> {
  await sql`
    INSERT INTO fills (fill_id, symbol, price, quantity, executed_at, maker_order_id, maker_coid, maker_account_id, maker_side,
      taker_order_id, taker_coid, taker_account_id, taker_side)
    SELECT ${symbol} || ':F' || g, ${symbol}, ${mid.toString()}::bigint + (g % 50) * 5, 1 + g % 7,
      now() - interval '500 minutes' * (${n}::int - g) / ${n}::int,
      'hist-m', '', 'bench-history-maker', 'SELL', 'hist-t', '', 'bench-history-taker', 'BUY'
    FROM generate_series(1, ${n}::int) AS g`;
  await redis.hset(bookStateKey(symbol), 'fill', String(n));
}

async function runStreams(label: string, target: string, streams: { name: string; call: string; data: unknown; apiKey?: string }[]): Promise<Record<string, GhzReport>> {
  const out: Record<string, GhzReport> = {};
  await Promise.all(streams.map(async (s) => {
    const output = join(dir, `${label}-${s.name}.json`);
    out[s.name] = await runGhz(ghz!, join(dir, `${label}-${s.name}.config.json`), {
      call: s.call, data: s.data, host: target, insecure: true, rps, async: rps > 0, duration: `${durationSec}s`, 'duration-stop': 'wait',
      connections, concurrency: Math.max(connections, concurrency), format: 'json', output,
      ...(s.apiKey ? { metadata: { authorization: `Bearer ${s.apiKey}` } } : {}),
    }, durationSec);
  }));
  return out;
}

const fmt = (r: StreamResult) => `${r.okPerSec.toFixed(0).padStart(6)} ok/s  p50 ${r.latencyMs.p50.toFixed(2).padStart(7)} ms  p99 ${r.latencyMs.p99.toFixed(2).padStart(7)} ms  errors ${r.errors}`;

async function main(): Promise<void> {
  const sql = createSql(config.databaseUrl, { max: 2, appName: 'bench-analytics' });
  const redis = new Redis(config.redisUrl);
  const premium = await createAccount(sql, redis, { name: 'bench-premium-reader', tier: 'ELITE' });
  const shared = await createAccount(sql, redis, { name: 'bench-shared-reader', tier: 'PRO' });
  const maker = await createAccount(sql, redis, { name: 'bench-maker', tier: 'BLACK' });
  if (history > 0) {
    await seedHistory(sql, redis, 'AAPL', 1_900_000n, history);
    await seedHistory(sql, redis, 'MSFT', 4_200_000n, history);
    await sql`ANALYZE fills`;
    console.log(`history: ${history} fills on AAPL and on MSFT over the last 500 minutes`);
  }
  await seed(premium.apiKey, maker.apiKey, 'AAPL', 1_900_000n, 1n);
  await seed(shared.apiKey, maker.apiKey, 'MSFT', 4_200_000n, 5n);
  for (let i = 0; i < 100; i++) { // the sync commits the seed fills
    const n = await sql`SELECT count(*)::int AS n FROM positions WHERE account_id IN (${premium.accountId}, ${shared.accountId})`;
    if (n[0]!.n === 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const before = await redis.hgetall(CACHE_STATS_KEY);
  const streams = (['premium', 'shared'] as const).flatMap((tier) => CALLS.map((c) => ({
    name: `${tier}-${c.method}`,
    call: `tierbook.v1.AnalyticsService/${c.method}`,
    data: c.method === 'GetPortfolio' ? c.data : { ...c.data, symbol: tier === 'premium' ? 'AAPL' : 'MSFT' },
    apiKey: tier === 'premium' ? premium.apiKey : shared.apiKey,
  })));
  console.log(`analytics read: ${streams.length} ghz processes, ${durationSec} s, ${rps > 0 ? `open loop at ${rps} calls/s each` : 'closed loop'}, ${connections} connections x ${concurrency} workers each, via nginx ${host}`);
  const reports = await runStreams('stack', host, streams);
  await new Promise((r) => setTimeout(r, 1_500)); // the workers flush cache counters every second
  const after = await redis.hgetall(CACHE_STATS_KEY);
  const delta: Record<string, string> = {};
  for (const [k, v] of Object.entries(after)) delta[k] = String(Number(v) - Number(before[k] ?? 0));
  const cache = summarizeCacheStats(delta);

  console.log(`baseline echo behind nginx (${config.gateway.processes} processes), same ghz settings, 6 processes of PlaceOrder`);
  const baseline = await startBaselineBehindNginx(projectRoot, dir, config.gateway.processes, config.gateway.maxMessageBytes);
  let echo: Record<string, GhzReport>;
  try {
    echo = await runStreams('baseline', baseline.host, streams.map((s) => ({ name: s.name, call: 'tierbook.v1.OrderService/PlaceOrder', data: { symbol: 'AAPL' } })));
  } finally {
    await baseline.stop();
  }

  const byTier = (tier: string) => mergeStreams(Object.entries(reports).filter(([n]) => n.startsWith(tier)).map(([, r]) => r));
  const all = mergeStreams(Object.values(reports));
  const echoAll = mergeStreams(Object.values(echo));
  const lines = [
    ...Object.entries(reports).map(([n, r]) => `  ${n.padEnd(22)} ${fmt(mergeStreams([r]))}`),
    `  ${'premium (all reads)'.padEnd(22)} ${fmt(byTier('premium'))}  cache hit rate ${((cache.ELITE?.hitRate ?? 0) * 100).toFixed(2)} % (${cache.ELITE?.hits ?? 0}/${(cache.ELITE?.hits ?? 0) + (cache.ELITE?.misses ?? 0)})`,
    `  ${'shared (all reads)'.padEnd(22)} ${fmt(byTier('shared'))}  cache hit rate ${((cache.PRO?.hitRate ?? 0) * 100).toFixed(2)} % (${cache.PRO?.hits ?? 0}/${(cache.PRO?.hits ?? 0) + (cache.PRO?.misses ?? 0)})`,
    `  ${'all reads'.padEnd(22)} ${fmt(all)}`,
    `  ${'baseline echo'.padEnd(22)} ${fmt(echoAll)}`,
    `  ratio reads / echo: ${(all.okPerSec / echoAll.okPerSec).toFixed(3)}`,
    `  cache counters (delta): ${JSON.stringify(delta)}`,
  ];
  console.log(lines.join('\n'));
  writeFileSync(join(dir, 'summary.txt'), lines.join('\n') + '\n');
  console.log(`results in ${dir}`);
  redis.disconnect();
  await sql.end({ timeout: 1 });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
