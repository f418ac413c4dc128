/**
 * The metrics an operator reads, end to end: a real cluster whose Redis has a maxmemory,
 * its /metrics, and (below) Debian's Prometheus scraping it with deploy/prometheus/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromRoot } from '../../src/shared/paths.js';
import { startOpsCluster, waitFor, type OpsCluster } from './support/cluster.js';
import { driveLoad, restingOrder } from './support/load.js';
import { parseSamples, total } from './support/prom-text.js';
import { startTestPrometheus, type PromSeries, type TestPrometheus } from './support/prometheus.js';

const MAXMEMORY = 64 * 1024 * 1024;

let cluster: OpsCluster;
before(async () => {
  cluster = await startOpsCluster({
    processes: 1,
    redisArgs: ['--maxmemory', String(MAXMEMORY)],
  });
});
after(async () => {
  await cluster?.stop();
});

test('/metrics shows Redis used memory and maxmemory, and used memory follows what is stored', async () => {
  const scrape = async () => parseSamples(await cluster.metricsText());
  const first = await scrape();
  assert.equal(total(first, 'tierbook_redis_up'), 1);
  assert.equal(total(first, 'tierbook_redis_maxmemory_bytes'), MAXMEMORY);
  const used = total(first, 'tierbook_redis_used_memory_bytes');
  // An almost empty Redis uses about a megabyte; it is far from the limit.
  assert.ok(used > 200_000 && used < MAXMEMORY / 4, `used_memory ${used}`);

  // 8 MiB more data must show as at least 8 MiB more used memory on the next scrape.
  const blob = 'x'.repeat(1024 * 1024);
  for (let i = 0; i < 8; i++) await cluster.redis.set(`test:blob:${i}`, blob);
  const after8 = total(await scrape(), 'tierbook_redis_used_memory_bytes');
  assert.ok(after8 - used >= 8 * 1024 * 1024, `used_memory ${used} -> ${after8}`);
  await cluster.redis.del(...Array.from({ length: 8 }, (_, i) => `test:blob:${i}`));
});

interface DashTarget {
  panel: string;
  expr: string;
  legend: string;
}

/** Every query of the Grafana dashboard, as Grafana sends it with Host = All. */
function dashboardTargets(): DashTarget[] {
  type Panel = { title: string; targets?: { expr: string; legendFormat?: string }[]; panels?: Panel[] };
  const doc = JSON.parse(readFileSync(fromRoot('deploy', 'grafana', 'tierbook-dashboard.json'), 'utf8')) as { panels: Panel[] };
  const walk = (ps: Panel[]): DashTarget[] => ps.flatMap((p) => [
    ...(p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr.replaceAll('$instance', '.*'), legend: t.legendFormat ?? '' })),
    ...walk(p.panels ?? []),
  ]);
  return walk(doc.panels);
}

/** The labels a legend such as `{{tier}} queued` shows: the series must carry them. */
const legendLabels = (legend: string) => [...legend.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!);

describe('Prometheus (Debian package) scraping the cluster with deploy/prometheus/', () => {
  let prom: TestPrometheus;
  const sent = { BLACK: 0, PRO: 0, invalid: 0 };
  before(async () => {
    prom = await startTestPrometheus(new URL(cluster.adminUrl).host);
    await prom.waitForScrapes(1);
    const black = await cluster.createAccount('BLACK');
    const pro = await cluster.createAccount('PRO');
    // Two rounds with scrapes between, so rate() over the dashboards' windows sees counters grow.
    for (const round of [1, 2]) {
      const b = await driveLoad({ target: cluster.target, apiKey: black.apiKey, concurrency: 4, durationMs: 30_000, maxCalls: 10 * round, prefix: `prom-b${round}` });
      const p = await driveLoad({ target: cluster.target, apiKey: pro.apiKey, concurrency: 2, durationMs: 30_000, maxCalls: 4 * round, prefix: `prom-p${round}` });
      const bad = await driveLoad({
        target: cluster.target, apiKey: pro.apiKey, concurrency: 1, durationMs: 30_000, maxCalls: 2, prefix: `prom-x${round}`,
        order: (id, n) => ({ ...restingOrder(id, n), symbol: 'NO-SUCH' }),
      });
      assert.equal(b.ok + p.ok, b.sent + p.sent, `every valid order is placed: ${JSON.stringify([b.byStatus, p.byStatus])}`);
      assert.equal(bad.byStatus.INVALID_ARGUMENT, 2);
      sent.BLACK += b.ok;
      sent.PRO += p.ok;
      sent.invalid += 2;
      await prom.waitForScrapes(2);
    }
  });
  after(async () => {
    await prom?.stop();
  });

  test('the PlaceOrder counts Prometheus holds match the calls sent, per tier and code', async (t) => {
    const counts = await prom.query('sum by (tier, code) (tierbook_rpc_duration_seconds_count{job="tierbook",method="OrderService/PlaceOrder"})');
    const got = Object.fromEntries(counts.map((s) => [`${s.labels.tier}|${s.labels.code}`, s.value]).sort());
    t.diagnostic(`PlaceOrder calls in Prometheus: ${JSON.stringify(got)}`);
    assert.deepEqual(got, { 'BLACK|OK': sent.BLACK, 'PRO|INVALID_ARGUMENT': sent.invalid, 'PRO|OK': sent.PRO });
    assert.deepEqual([sent.BLACK, sent.PRO], [30, 12]);
    // The histogram's +Inf bucket is the count; the target carries the deploy config's labels.
    const inf = await prom.query('sum by (tier, instance, service) (tierbook_rpc_duration_seconds_bucket{method="OrderService/PlaceOrder",code="OK",le="+Inf"})');
    assert.deepEqual(inf.map((s) => [s.labels.tier, s.value, s.labels.service, s.labels.instance]).sort(), [
      ['BLACK', 30, 'tierbook', new URL(cluster.adminUrl).host],
      ['PRO', 12, 'tierbook', new URL(cluster.adminUrl).host],
    ]);
    const orders = await prom.query('sum by (tier) (tierbook_orders_total{action="place"})');
    assert.deepEqual(Object.fromEntries(orders.map((s) => [s.labels.tier, s.value])), { BLACK: 30, PRO: 12 });
  });

  test('the dashboard panels for latency, SLA compliance, pool queue, sync lag and Redis memory have series with their labels', async (t) => {
    const targets = dashboardTargets();
    const panel = async (title: string) => {
      const ts = targets.filter((x) => x.panel === title);
      assert.ok(ts.length > 0, `the dashboard has a panel "${title}"`);
      return Promise.all(ts.map(async (x) => {
        const series = await prom.query(x.expr);
        t.diagnostic(`${title} [${x.legend}]: ${series.map((s) => `${JSON.stringify(s.labels)} ${s.value}`).join(', ') || 'none'}`);
        for (const s of series) for (const l of legendLabels(x.legend)) assert.ok(l in s.labels, `${title}: series ${JSON.stringify(s.labels)} lacks label ${l}`);
        return series;
      }));
    };
    const byTier = (series: PromSeries[]) => Object.fromEntries(series.map((s) => [s.labels.tier, s.value]));

    // Latency p99 per tier from the histogram's rate: both tiers that had calls, a real latency.
    const [p99] = await panel('Latency p99 by tier');
    assert.deepEqual(Object.keys(byTier(p99!)).sort(), ['BLACK', 'PRO']);
    for (const s of p99!) assert.ok(s.value > 0 && s.value <= 10, `p99 ${s.labels.tier} = ${s.value} s`);

    // Compliance per tier: present for the tiers with calls in the last minute, a share, and
    // exactly the window's met calls over its calls as scraped.
    for (const objective of ['seed', 'target'] as const) {
      const title = objective === 'seed' ? 'SLA compliance, last minute (seed: premium 50 ms, shared 100 ms)' : 'SLA compliance, last minute (target: premium 5 ms, shared 10 ms)';
      const [ratio] = await panel(title);
      const r = byTier(ratio!);
      assert.deepEqual(Object.keys(r).sort(), ['BLACK', 'PRO']);
      const parts = byTier(await prom.query(`sum by (tier) (tierbook_sla_window_met{objective="${objective}"}) / sum by (tier) (tierbook_sla_window_calls{objective="${objective}"})`));
      for (const tier of ['BLACK', 'PRO']) {
        assert.ok(r[tier]! >= 0 && r[tier]! <= 1, `${objective} ${tier} ${r[tier]}`);
        assert.ok(Math.abs(r[tier]! - parts[tier]!) < 1e-9, `${objective} ${tier}: ratio ${r[tier]} = met/calls ${parts[tier]}`);
      }
    }
    const windowCalls = byTier(await prom.query('sum by (tier) (tierbook_sla_window_calls{objective="seed"})'));
    assert.deepEqual(windowCalls, { BLACK: 30, PRO: 12 + sent.invalid }, 'every call of the last minute is in the window');

    // Pool queue depth and threads, per pool: idle now, one thread each (TIERBOOK_*_THREADS=1).
    const [queued, threads] = await panel('Pool queue depth and threads');
    assert.deepEqual(Object.fromEntries(queued!.map((s) => [s.labels.pool, s.value])), { premium: 0, shared: 0 });
    assert.deepEqual(Object.fromEntries(threads!.map((s) => [s.labels.pool, s.value])), { premium: 1, shared: 1 });

    // Sync lag: the gauges describe the last trim interval (5 s), 0 when idle; while the
    // orders flowed it was above zero (a batch lingers) and far below the 5 s alert.
    const [lagP99, lagP50] = await panel('Sync lag (append -> commit)');
    assert.equal(lagP99!.length, 1);
    assert.ok(lagP99![0]!.value >= lagP50![0]!.value);
    // The thread computes them every 5 s from the entries it committed since: wait for one.
    const peak = await waitFor('a sync lag above zero in Prometheus', async () =>
      (await prom.query('max_over_time(tierbook_sync_lag_p99_seconds[1m]) > 0'))[0], 20_000);
    t.diagnostic(`sync lag p99, highest in the last minute: ${peak!.value} s`);
    assert.ok(peak!.value > 0 && peak!.value < 5, `sync lag p99 peak ${peak!.value} s`);
    // Every order became (at least) one event committed to Postgres.
    const [committed] = await prom.query('sum(tierbook_sync_events_committed_total)');
    t.diagnostic(`sync events committed: ${committed!.value}`);
    assert.ok(committed!.value >= 42, `sync committed ${committed!.value} events for 42 orders`);

    // Redis memory against the maxmemory this Redis was started with.
    const [used, max] = await panel('Redis memory');
    assert.equal(max![0]!.value, MAXMEMORY);
    assert.ok(used![0]!.value > 200_000 && used![0]!.value < MAXMEMORY, `used ${used![0]!.value}`);
    const [share] = await panel('Redis memory used of maxmemory');
    assert.ok(Math.abs(share![0]!.value - used![0]!.value / MAXMEMORY) < 0.01);

    // The Host variable lists this target.
    const hosts = await prom.query('tierbook_gateway_processes_ready');
    assert.deepEqual(hosts.map((s) => s.labels.instance), [new URL(cluster.adminUrl).host]);
  });

  test('every dashboard and alert expression is valid PromQL for this Prometheus', async () => {
    const rules = readFileSync(fromRoot('deploy', 'prometheus', 'tierbook-alerts.yml'), 'utf8');
    const exprs = [...dashboardTargets().map((x) => x.expr)];
    assert.ok(exprs.length >= 36, `${exprs.length} dashboard queries`);
    for (const e of exprs) await prom.query(e);
    // The rules are loaded (rule_files beside prometheus.yml) and evaluate without error.
    const groups = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } };
    const loaded = groups.data.groups.flatMap((g) => g.rules);
    assert.equal(loaded.length, (rules.match(/^\s+- alert: /gm) ?? []).length);
    await prom.waitForScrapes(1);
    const unhealthy = loaded.filter((r) => r.health !== 'ok');
    assert.deepEqual(unhealthy, [], 'every rule evaluates');
  });
});
