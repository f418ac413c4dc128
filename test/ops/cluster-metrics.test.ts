/**
 * The cluster's /metrics against a known amount of traffic: every call is counted once, by
 * method, tier and status code, whichever of the two gateway processes served it; the worker
 * threads' metrics (orders by status, Redis latency, pool wait) arrive through the bridge.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { status } from '@grpc/grpc-js';
import { GetOrderRequestSchema, GetOrderResponseSchema, OrderService, PlaceOrderRequestSchema, PlaceOrderResponseSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { callError, TestClient } from '../support/grpc-client.js';
import { fromRoot } from '../../src/shared/paths.js';
import { startOpsCluster, type OpsCluster } from './support/cluster.js';
import { restingOrder } from './support/load.js';
import { exposedNames, parseSamples, total } from './support/prom-text.js';
import { exprsIn, metricNames } from './support/promql-names.js';

let cluster: OpsCluster;
before(async () => {
  cluster = await startOpsCluster({ processes: 2 });
});
after(async () => {
  await cluster?.stop();
});

test('after known traffic, /metrics counts each call once per method, tier and code', async () => {
  const black = await cluster.createAccount('BLACK');
  const pro = await cluster.createAccount('PRO');
  const expected = new Map<string, number>();
  const tally = (method: string, tier: string, code: number) => {
    const k = `${method}|${tier}|${status[code]}`;
    expected.set(k, (expected.get(k) ?? 0) + 1);
  };
  const run = async (c: TestClient, tier: string, method: 'PlaceOrder' | 'GetOrder', req: object) => {
    try {
      if (method === 'PlaceOrder') await c.unary(OrderService, method, PlaceOrderRequestSchema, PlaceOrderResponseSchema, req);
      else await c.unary(OrderService, method, GetOrderRequestSchema, GetOrderResponseSchema, req);
      tally(`OrderService/${method}`, tier, status.OK);
    } catch (err) {
      tally(`OrderService/${method}`, tier, callError(err).code);
    }
  };
  // Several connections so nginx spreads the calls over both processes.
  const clients = (key: string) => Array.from({ length: 4 }, () => new TestClient(cluster.target, key));
  const [b, p, bad] = [clients(black.apiKey), clients(pro.apiKey), clients('not-a-key')];
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < 40; i++) jobs.push(run(b[i % 4]!, 'BLACK', 'PlaceOrder', restingOrder(`m-b-${i}`, i)));
  for (let i = 0; i < 12; i++) jobs.push(run(p[i % 4]!, 'PRO', 'PlaceOrder', restingOrder(`m-p-${i}`, i)));
  for (let i = 0; i < 6; i++) jobs.push(run(b[i % 4]!, 'BLACK', 'GetOrder', { orderId: `no-such-order-${i}` }));
  for (let i = 0; i < 5; i++) jobs.push(run(p[i % 4]!, 'PRO', 'PlaceOrder', { ...restingOrder(`m-x-${i}`, i), symbol: 'NO-SUCH' }));
  for (let i = 0; i < 3; i++) jobs.push(run(bad[i % 4]!, 'NONE', 'GetOrder', { orderId: 'x' }));
  await Promise.all(jobs);
  for (const c of [...b, ...p, ...bad]) c.close();

  const samples = parseSamples(await cluster.metricsText());
  const seen = new Map<string, number>();
  for (const s of samples.filter((s) => s.name === 'tierbook_rpc_duration_seconds_count')) {
    seen.set(`${s.labels.method}|${s.labels.tier}|${s.labels.code}`, s.value);
  }
  assert.deepEqual(Object.fromEntries([...seen].sort()), Object.fromEntries([...expected].sort()));
  assert.equal(expected.get('OrderService/PlaceOrder|BLACK|OK'), 40, 'all BLACK orders were placed');

  // Both processes served calls, and the process metrics keep them apart.
  const rss = samples.filter((s) => s.name === 'process_resident_memory_bytes').map((s) => s.labels.process).sort();
  assert.deepEqual(rss, ['gateway-0', 'gateway-1', 'primary']);

  // From the worker threads: resulting order status, Redis latency, time waiting for a thread.
  assert.equal(total(samples, 'tierbook_orders_total', { tier: 'BLACK', action: 'place', status: 'NEW' }), 40);
  assert.equal(total(samples, 'tierbook_orders_total', { tier: 'PRO', action: 'place' }), 12);
  assert.ok(total(samples, 'tierbook_redis_command_duration_seconds_count', { pool: 'premium' }) >= 40);
  assert.equal(total(samples, 'tierbook_pool_wait_seconds_count', { pool: 'premium' }), 46);
  // The SLA series: every authenticated call counted under each objective.
  assert.equal(total(samples, 'tierbook_sla_calls_total', { tier: 'BLACK', objective: 'seed' }), 46);
  // The ratio is the one-minute window's met calls over its calls, summed over the processes.
  // How many met the 50 ms promise depends on how busy the box is (a cold cluster beside
  // another test file may meet none), so the ratio is checked against its own parts.
  const seed = { tier: 'BLACK', objective: 'seed' };
  const ratio = samples.find((s) => s.name === 'tierbook_sla_compliance_ratio' && s.labels.tier === 'BLACK' && s.labels.objective === 'seed');
  const windowCalls = total(samples, 'tierbook_sla_window_calls', seed);
  const windowMet = total(samples, 'tierbook_sla_window_met', seed);
  assert.equal(windowCalls, 46, 'every BLACK call is in the one-minute window');
  // Met = answered within 50 ms without a server fault: here exactly the BLACK calls in the
  // latency histogram's 50 ms bucket (its edges sit at the SLA thresholds; OK and NOT_FOUND
  // are not faults).
  assert.equal(windowMet, total(samples, 'tierbook_rpc_duration_seconds_bucket', { tier: 'BLACK', le: '0.05' }));
  assert.ok(ratio && ratio.value >= 0 && ratio.value <= 1, `compliance ratio ${ratio?.value}`);
  assert.equal(ratio.value, windowMet / windowCalls);
});

/** `expr:` values of a Prometheus rules file (inline, or a `|` block). */
function ruleExprs(yaml: string): string[] {
  const out: string[] = [];
  const lines = yaml.split('\n');
  lines.forEach((line, i) => {
    const m = /^(\s*)expr:\s*(.*)$/.exec(line);
    if (!m) return;
    if (m[2] !== '|') return void out.push(m[2]!);
    const block: string[] = [];
    for (let j = i + 1; j < lines.length && (lines[j]!.trim() === '' || /^\s+/.exec(lines[j]!)![0].length > m[1]!.length); j++) block.push(lines[j]!);
    out.push(block.join(' '));
  });
  return out;
}

test('the Grafana dashboard and the alert rules read only metrics that /metrics exposes', async () => {
  const exposed = exposedNames(await cluster.metricsText());
  const dashboard = JSON.parse(readFileSync(fromRoot('deploy', 'grafana', 'tierbook-dashboard.json'), 'utf8')) as unknown;
  const dashExprs = exprsIn(dashboard);
  const alertExprs = ruleExprs(readFileSync(fromRoot('deploy', 'prometheus', 'tierbook-alerts.yml'), 'utf8'));
  assert.ok(dashExprs.length >= 30 && alertExprs.length >= 16, `found ${dashExprs.length} panel and ${alertExprs.length} alert expressions`);
  // node_* series come from node_exporter (the host alerts), not from tierbook.
  const used = new Set([...dashExprs, ...alertExprs].flatMap(metricNames).filter((n) => !n.startsWith('node_')));
  const missing = [...used].filter((n) => !exposed.has(n));
  assert.deepEqual(missing, [], `referenced but not exposed: ${missing.join(', ')}`);
  // The parser finds names at all (and both views are there).
  for (const n of ['tierbook_rpc_duration_seconds_bucket', 'process_resident_memory_bytes', 'tierbook_sync_lag_p99_seconds', 'tierbook_cache_requests_total']) {
    assert.ok(used.has(n), `${n} is on the dashboard`);
  }
});
