/**
 * Steady-state soak: the real cluster (own Redis with AOF, Postgres, `main.js` with its gateway
 * processes and sync, nginx; free ports) under a steady, paced order flow for `--minutes`,
 * with a retention short enough that many windows pass. Every minute it samples Redis
 * used_memory and key count, every gateway's RSS, and the minute's PlaceOrder p50/p99; a
 * BGREWRITEAOF is forced at `--rewrite-at` minutes to show what a rewrite does to the tail.
 * At the end it waits for the sync, checks that every acknowledged order is in Postgres once,
 * measures the bytes per key family (MEMORY USAGE), and writes a report (table + charts) to
 * loadtest/results/<time>-retention-soak/.
 *
 *   node dist/bench/retention-soak.js [--minutes 30] [--rate 400] [--retention-seconds 60]
 *     [--window-seconds 180] [--processes 2] [--rewrite-at 15]
 *
 * The flow, per ten orders: four buys and four sells at one price (every pair trades: fills,
 * positions, the sync), a resting bid far from the price that is canceled at once, and an IOC
 * (buying in one ten, selling in the next) that takes what rests or expires. Buyers and sellers
 * are different accounts, so no order meets its own account's. Balanced, so the books stay
 * small and what Redis holds is the retention window, not a growing book.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CancelOrderRequestSchema, CancelOrderResponseSchema, OrderService, PlaceOrderRequestSchema, PlaceOrderResponseSchema,
} from '../src/gen/tierbook/v1/order_service_pb.js';
import { OrderType, Side, TimeInForce } from '../src/gen/tierbook/v1/types_pb.js';
import { fromRoot } from '../src/shared/paths.js';
import { timeSeriesChart } from '../loadtest/charts.js';
import { renderSvg } from '../loadtest/vega-render.js';
import { TestClient } from '../test/support/grpc-client.js';
import { startOpsCluster } from '../test/ops/support/cluster.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    rate: { type: 'string', default: '400' },
    'retention-seconds': { type: 'string', default: '60' },
    'window-seconds': { type: 'string', default: '180' },
    processes: { type: 'string', default: '2' },
    'rewrite-at': { type: 'string', default: '15' },
    'sample-seconds': { type: 'string', default: '60' },
  },
});
const minutes = Number(args.minutes);
const rate = Number(args.rate);
const sampleMs = Number(args['sample-seconds']) * 1000;
const rewriteAtMs = Number(args['rewrite-at']) * 60_000;
const PRICE = 4_200_000n;

interface Minute {
  t: number; usedMiB: number; keys: number; rssMiB: number[]; ok: number; failed: number; p50: number; p99: number; rewrite: boolean;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0;
}

async function usedMemory(redis: import('ioredis').Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

const cluster = await startOpsCluster({
  processes: Number(args.processes),
  redisArgs: ['--appendonly', 'yes'],
  env: {
    TIERBOOK_LOG_LEVEL: 'warn',
    TIERBOOK_ORDER_RETENTION_MS: String(Number(args['retention-seconds']) * 1000),
    TIERBOOK_IDEMPOTENCY_WINDOW_MS: String(Number(args['window-seconds']) * 1000),
  },
});
try {
  const accounts = await Promise.all((['ELITE', 'BLACK', 'PRO', 'LITE'] as const).map((t) => cluster.createAccount(t)));
  const clients = accounts.flatMap((a) => [new TestClient(cluster.target, a.apiKey), new TestClient(cluster.target, a.apiKey)]);
  // Buyers and sellers are different accounts (one premium and one shared on each side): an
  // account that bought and sold at one price would meet its own orders, and self-trade
  // prevention (CANCEL_NEWEST) would cancel the newcomer and leave the resting side to grow.
  const buyers = clients.filter((_, k) => [0, 2].includes(Math.floor(k / 2)));
  const sellers = clients.filter((_, k) => [1, 3].includes(Math.floor(k / 2)));
  const prefix = `soak${Date.now().toString(36)}`;
  const totals = { ok: 0, failed: 0, byStatus: {} as Record<string, number> };
  let bucket: number[] = [];
  let failedInMinute = 0;
  let n = 0;
  let inFlight = 0;
  const acked = new Set<string>();
  const one = async (i: number) => {
    // In each ten: four GTC buys and four GTC sells at one price (they pair up, so no book
    // grows), a resting bid far away that is canceled at once, and an IOC that takes what is
    // there or expires. A flow that left orders resting would grow Redis by design.
    const slot = i % 10;
    const resting = slot === 8;
    const ioc = slot === 9;
    // The IOC buys in one ten and sells in the next, so it takes from both sides alike.
    const buy = resting || (ioc ? Math.floor(i / 10) % 2 === 0 : slot % 2 === 0);
    const side = buy ? buyers : sellers;
    const c = side[Math.floor(i / 10) % side.length]!;
    const req = {
      symbol: 'MSFT', side: buy ? Side.BUY : Side.SELL, type: OrderType.LIMIT,
      timeInForce: ioc ? TimeInForce.IOC : TimeInForce.GTC,
      priceTicks: resting ? PRICE - 100_000n : PRICE, quantityLots: 1n, clientOrderId: `${prefix}-${i}`,
    };
    const started = performance.now();
    inFlight++;
    try {
      const res = await c.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, req, 10_000);
      bucket.push(performance.now() - started);
      totals.ok++;
      acked.add(req.clientOrderId);
      if (resting) await c.unary(OrderService, 'CancelOrder', CancelOrderRequestSchema, CancelOrderResponseSchema, { orderId: res.order!.orderId }, 10_000);
    } catch (err) {
      totals.failed++;
      failedInMinute++;
      const code = String((err as { code?: number }).code ?? 'unknown');
      totals.byStatus[code] = (totals.byStatus[code] ?? 0) + 1;
    } finally {
      inFlight--;
    }
  };
  const started = Date.now();
  const end = started + minutes * 60_000;
  // Paced, open loop: every 10 ms, the calls due by now (a slow answer does not slow the offer).
  const pacer = (async () => {
    while (Date.now() < end) {
      const due = Math.floor(((Date.now() - started) / 1000) * rate);
      while (n < due) void one(n++);
      await sleep(10);
    }
  })();
  const rows: Minute[] = [];
  let rewriteDone = false;
  console.log(`retention soak: ${minutes} min at ${rate} orders/s, retention ${args['retention-seconds']} s, idempotency window ${args['window-seconds']} s`);
  console.log('minute  used MiB   keys     gateway RSS MiB     ok/s   failed   p50 ms   p99 ms');
  while (Date.now() < end) {
    await sleep(Math.min(sampleMs, Math.max(0, end - Date.now())));
    let rewrite = false;
    if (!rewriteDone && Date.now() - started >= rewriteAtMs) {
      await cluster.redis.bgrewriteaof();
      rewriteDone = rewrite = true;
    }
    const lat = bucket.sort((a, b) => a - b);
    const { gateways } = await cluster.readiness();
    const m: Minute = {
      t: (Date.now() - started) / 60_000, usedMiB: (await usedMemory(cluster.redis)) / 2 ** 20, keys: await cluster.redis.dbsize(),
      rssMiB: gateways.map((g) => rssMiB(g.pid!)), ok: lat.length, failed: failedInMinute, p50: pct(lat, 50), p99: pct(lat, 99), rewrite,
    };
    bucket = [];
    failedInMinute = 0;
    rows.push(m);
    console.log(`${m.t.toFixed(1).padStart(6)} ${m.usedMiB.toFixed(1).padStart(9)} ${String(m.keys).padStart(7)}   ${m.rssMiB.map((v) => v.toFixed(0)).join(' / ').padEnd(18)} ${(m.ok / (sampleMs / 1000)).toFixed(0).padStart(6)} ${String(m.failed).padStart(8)} ${m.p50.toFixed(2).padStart(8)} ${m.p99.toFixed(2).padStart(8)}${rewrite ? '  (BGREWRITEAOF)' : ''}`);
  }
  await pacer;
  while (inFlight > 0) await sleep(50);
  for (const c of clients) c.close();

  // Every acknowledged order in Postgres, once. (A call that failed, e.g. past its deadline,
  // may still have placed its order: such rows are counted apart, not as acknowledged.)
  const inPgIds = async () => new Set((await cluster.sql<{ c: string }[]>`SELECT client_order_id AS c FROM orders
    WHERE client_order_id LIKE ${prefix + '-%'}`).map((r) => r.c));
  let pgIds = new Set<string>();
  let missing = acked.size;
  for (let i = 0; i < 120 && missing > 0; i++) {
    pgIds = await inPgIds();
    missing = [...acked].filter((id) => !pgIds.has(id)).length;
    if (missing > 0) await sleep(1000);
  }
  const inPg = acked.size - missing;
  const failedButPlaced = [...pgIds].filter((id) => !acked.has(id)).length;
  const [dups] = await cluster.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM (SELECT client_order_id FROM orders
    WHERE client_order_id LIKE ${prefix + '-%'} GROUP BY client_order_id HAVING count(*) > 1) d`;

  // Bytes per key family, from a sample of each.
  const family = async (pattern: string) => {
    const [, keys] = (await cluster.redis.scan('0', 'MATCH', pattern, 'COUNT', 20_000)) as [string, string[]];
    const sample = keys.slice(0, 200);
    const sizes = await Promise.all(sample.map((k) => cluster.redis.memory('USAGE', k)));
    return { count: keys.length, avg: sizes.length ? sizes.reduce((a: number, b) => a + Number(b), 0) / sizes.length : 0 };
  };
  // What rests at the end: a balanced flow leaves the book near empty, so Redis holds the window.
  const resting = (await cluster.redis.zcard('{bk:MSFT}:q:B:4200000')) + (await cluster.redis.zcard('{bk:MSFT}:q:S:4200000'));
  const fam = {
    order: await family('{bk:MSFT}:o:*'),
    clientId: await family('{bk:MSFT}:c:*'),
    reservation: await family('{ac:*}:coid:*'),
  };

  const warm = rows.filter((r) => r.t >= Number(args['retention-seconds']) / 60 + 1);
  const last10 = rows.filter((r) => r.t >= minutes - 10);
  const used = last10.map((r) => r.usedMiB);
  const drift = used.length ? (Math.max(...used) - Math.min(...used)) / (used.reduce((a, b) => a + b, 0) / used.length) : NaN;
  // Judged after the first retention window (and a minute of warm-up): JIT, pools and caches
  // filling, and the first sweeps, are not the steady state the soak is about.
  const p99s = (warm.length ? warm : rows).map((r) => r.p99).sort((a, b) => a - b);
  const medianP99 = pct(p99s, 50);
  const worst = p99s.at(-1) ?? 0;
  const verdict = [
    `acknowledged ${totals.ok}, failed ${totals.failed} ${JSON.stringify(totals.byStatus)}; acknowledged in Postgres ${inPg} (missing ${missing}), duplicated ${dups!.n}; failed calls whose order was placed anyway ${failedButPlaced}`,
    `Redis used_memory over the last 10 minutes moves ${(drift * 100).toFixed(1)} % (${Math.min(...used).toFixed(1)}..${Math.max(...used).toFixed(1)} MiB): ${drift < 0.05 ? 'flat' : 'NOT flat'}`,
    `after the first retention window: worst minute p99 ${worst.toFixed(2)} ms vs median minute p99 ${medianP99.toFixed(2)} ms (${(worst / medianP99).toFixed(2)}x): ${worst <= 2 * medianP99 ? 'within 2x' : 'OVER 2x'}`,
    `orders resting at the end: ${resting}`,
    `bytes per key (MEMORY USAGE, sample of 200): order hash ${fam.order.avg.toFixed(0)} (${fam.order.count} in Redis), client order id record ${fam.clientId.avg.toFixed(0)} (${fam.clientId.count}), reservation ${fam.reservation.avg.toFixed(0)} (${fam.reservation.count})`,
  ];
  for (const v of verdict) console.log(v);

  const dir = fromRoot('loadtest', 'results', `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-retention-soak`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'memory.svg'), await renderSvg(timeSeriesChart(
    `Redis used_memory and gateway RSS, ${rate} orders/s, retention ${args['retention-seconds']} s`, 'MiB', 'minute',
    [
      { label: 'Redis used_memory', points: rows.map((r) => ({ x: r.t, y: r.usedMiB })) },
      ...rows[0]!.rssMiB.map((_, i) => ({ label: `gateway-${i} RSS`, points: rows.map((r) => ({ x: r.t, y: r.rssMiB[i]! })) })),
    ],
  )));
  writeFileSync(join(dir, 'latency.svg'), await renderSvg(timeSeriesChart('PlaceOrder latency per minute', 'ms', 'minute', [
    { label: 'p50', points: rows.map((r) => ({ x: r.t, y: r.p50 })) },
    { label: 'p99', points: rows.map((r) => ({ x: r.t, y: r.p99 })) },
  ], [{ label: '2x median p99', value: 2 * medianP99 }])));
  const table = ['| minute | Redis used MiB | keys | gateway RSS MiB | ok/s | failed | p50 ms | p99 ms |', '| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.t.toFixed(1)}${r.rewrite ? ' (BGREWRITEAOF)' : ''} | ${r.usedMiB.toFixed(1)} | ${r.keys} | ${r.rssMiB.map((v) => v.toFixed(0)).join(' / ')} | ${(r.ok / (sampleMs / 1000)).toFixed(0)} | ${r.failed} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`)];
  writeFileSync(join(dir, 'report.md'), [`# Retention soak: ${minutes} min at ${rate} orders/s`, '', `\`node dist/bench/retention-soak.js ${process.argv.slice(2).join(' ')}\``, '',
    '![memory](memory.svg)', '', '![latency](latency.svg)', '', ...table, '', ...verdict.map((v) => `- ${v}`), ''].join('\n'));
  writeFileSync(join(dir, 'minutes.json'), JSON.stringify({ rows, verdict, families: fam }, null, 2));
  console.log(`report: ${dir}/report.md`);
} finally {
  await cluster.stop();
}
