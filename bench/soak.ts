/**
 * Soak: the real cluster (own Redis, Postgres, `main.js` with N gateway processes, nginx, on
 * free ports; nothing of .stack is touched) under steady order traffic for `--minutes`
 * (10 by default), sampling every gateway process's RSS and heap. Buyers and sellers trade
 * at one price, so books stay small while matching, fills and the sync all run. Prints one
 * line per sample and a verdict: RSS and V8 heap in use after warm-up vs at the end, and after
 * an idle pause. Writes the samples and `memory.svg` (RSS and heap over time per process)
 * into `--out` (default loadtest/results/<time>-soak/).
 *
 *   node dist/bench/soak.js [--minutes 10] [--concurrency 16] [--processes 2] [--sample-seconds 30] [--out DIR]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { OrderType, Side, TimeInForce } from '../src/gen/tierbook/v1/types_pb.js';
import { startOpsCluster } from '../test/ops/support/cluster.js';
import { startLoad } from '../test/ops/support/load.js';
import { parseSamples } from '../test/ops/support/prom-text.js';
import { memoryChart, type MemorySample } from '../loadtest/charts.js';
import { renderSvg } from '../loadtest/vega-render.js';
import { fromRoot } from '../src/shared/paths.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
    processes: { type: 'string', default: '2' },
    'sample-seconds': { type: 'string', default: '30' },
    out: { type: 'string' },
  },
});
const minutes = Number(args.minutes);
const sampleMs = Number(args['sample-seconds']) * 1000;
const outDir = args.out ?? fromRoot('loadtest', 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}-soak`);

/** VmRSS of a process in MiB, from /proc (what the kernel charges it). */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** A buyer (even loops) and a seller (odd loops) at the same price: every pair trades. */
function tradingOrder(clientOrderId: string, n: number, loop: number) {
  return {
    symbol: 'MSFT',
    side: loop % 2 === 0 ? Side.BUY : Side.SELL,
    type: OrderType.LIMIT,
    timeInForce: TimeInForce.GTC,
    priceTicks: 4_200_000n,
    quantityLots: 1n,
    clientOrderId,
  };
}

const cluster = await startOpsCluster({ processes: Number(args.processes), env: { TIERBOOK_LOG_LEVEL: 'warn' } });
try {
  const [buyer, seller] = [await cluster.createAccount('ELITE'), await cluster.createAccount('PRO')];
  const load = startLoad({
    target: cluster.target,
    apiKey: buyer.apiKey,
    apiKeys: [buyer.apiKey, seller.apiKey],
    order: tradingOrder,
    concurrency: Number(args.concurrency),
    durationMs: minutes * 60_000,
    maxCalls: 50_000_000,
    prefix: `soak-${Date.now()}`,
    keepAcked: false,
  });
  const started = Date.now();
  const samples: { t: number; rss: number[]; heap: number[] }[] = [];
  const chartSamples: MemorySample[] = [];
  let lastSent = 0;
  console.log(`soak: ${minutes} min, ${args.concurrency} concurrent calls, ${args.processes} gateway processes; RSS in MiB`);
  const sample = async (label: string) => {
    const { gateways } = await cluster.readiness();
    const rss = gateways.map((g) => rssMiB(g.pid!));
    const primary = rssMiB(cluster.primaryPid);
    // V8 heap in use per gateway process (its main thread), from the cluster's /metrics: RSS
    // alone cannot tell a leak from the heap growing into the room V8 gives it.
    const used = parseSamples(await cluster.metricsText()).filter((x) => x.name === 'nodejs_heap_size_used_bytes');
    const heapOf = (process: string) => (used.find((x) => x.labels.process === process)?.value ?? NaN) / 2 ** 20;
    const heap = gateways.map((g) => heapOf(`gateway-${g.index}`));
    const r = load.result;
    const t = (Date.now() - started) / 1000;
    console.log(`${label.padEnd(6)} t=${t.toFixed(0).padStart(4)}s calls=${r.sent} (+${r.sent - lastSent}) failed=${r.failed} ` +
      `gateways=[${rss.map((v) => v.toFixed(1)).join(', ')}] heap=[${heap.map((v) => v.toFixed(1)).join(', ')}] primary=${primary.toFixed(1)}`);
    lastSent = r.sent;
    samples.push({ t, rss, heap });
    gateways.forEach((g, i) => chartSamples.push({ t, process: `gateway-${g.index}`, rssMiB: rss[i]!, heapMiB: heap[i]! }));
    chartSamples.push({ t, process: 'primary', rssMiB: primary, heapMiB: heapOf('primary') });
  };
  let finished = false;
  void load.done.then(() => (finished = true));
  while (!finished) {
    await Promise.race([sleep(sampleMs), load.done]);
    await sample('load');
  }
  const r = await load.done;
  console.log(`load done: ${r.sent} calls in ${r.seconds.toFixed(0)} s (${(r.sent / r.seconds).toFixed(0)}/s), failed ${r.failed}, by status ${JSON.stringify(r.byStatus)}`);
  await sleep(15_000);
  await sample('idle');
  // Warm-up: the first sample after the first minute (JIT, pools, caches filled).
  const warm = samples.find((s) => s.t >= Math.min(60, minutes * 30)) ?? samples[0]!;
  const endLoad = samples.at(-2) ?? samples.at(-1)!;
  endLoad.rss.forEach((v, i) => {
    const growth = v - warm.rss[i]!;
    console.log(`gateway-${i}: RSS after warm-up ${warm.rss[i]!.toFixed(1)} MiB, at end of load ${v.toFixed(1)} MiB (${growth >= 0 ? '+' : ''}${growth.toFixed(1)}), idle ${samples.at(-1)!.rss[i]!.toFixed(1)} MiB; ` +
      `heap in use after warm-up ${warm.heap[i]!.toFixed(1)} MiB, at end of load ${endLoad.heap[i]!.toFixed(1)} MiB, idle ${samples.at(-1)!.heap[i]!.toFixed(1)} MiB`);
  });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'memory.json'), JSON.stringify(chartSamples, null, 2));
  const title = `Soak: ${minutes} min, ${r.sent} calls (${(r.sent / r.seconds).toFixed(0)}/s), ${args.processes} gateway processes`;
  writeFileSync(join(outDir, 'memory.svg'), await renderSvg(memoryChart(title, chartSamples)));
  console.log(`memory chart: ${join(outDir, 'memory.svg')}`);
} finally {
  await cluster.stop();
}
