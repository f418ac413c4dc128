/** The metric building blocks on their own: SLA rules, the one-minute window, merging. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Histogram, Registry } from 'prom-client';
import { status } from '@grpc/grpc-js';
import { codeName, methodLabel, metSla } from '../../src/server/metrics/sla.js';
import { SlaWindow } from '../../src/server/metrics/sla-window.js';
import { keepMonotonic, mergeJson } from '../../src/server/metrics/merge-json.js';
import { withComplianceRatio } from '../../src/server/metrics/sla-ratio.js';
import { clusterMasters, parseInfoMemory } from '../../src/server/metrics/redis-memory-metrics.js';
import { parseTraceparent } from '../../src/server/metrics/trace-context.js';
import type { MetricsJson } from '../../src/workers/metrics-bridge.js';

test('SLA: the bound depends on the tier, and server faults never meet it', () => {
  assert.equal(metSla('target', 'BLACK', status.OK, 0.005), true);
  assert.equal(metSla('target', 'BLACK', status.OK, 0.0051), false);
  assert.equal(metSla('target', 'PRO', status.OK, 0.0099), true);
  assert.equal(metSla('seed', 'LITE', status.NOT_FOUND, 0.09), true, 'a fast client error is an answer');
  assert.equal(metSla('seed', 'ELITE', status.RESOURCE_EXHAUSTED, 0.001), false);
  assert.equal(codeName(14), 'UNAVAILABLE');
  assert.equal(methodLabel('/tierbook.v1.OrderService/PlaceOrder'), 'OrderService/PlaceOrder');
});

test('the SLA window forgets calls older than its length', () => {
  let now = 1_000_000;
  const w = new SlaWindow(60, () => now);
  w.add('BLACK|target', true);
  w.add('BLACK|target', false);
  now += 30_000;
  w.add('BLACK|target', true);
  assert.deepEqual(w.totals().get('BLACK|target'), { calls: 3, met: 2 });
  now += 31_000;
  assert.deepEqual(w.totals().get('BLACK|target'), { calls: 1, met: 1 });
  now += 60_000;
  assert.equal(w.totals().get('BLACK|target'), undefined);
});

async function part(calls: number, seconds: number): Promise<MetricsJson> {
  const r = new Registry();
  const c = new Counter({ name: 'tierbook_x_total', help: 'x', labelNames: ['tier'], registers: [r] });
  const h = new Histogram({ name: 'tierbook_y_seconds', help: 'y', buckets: [0.005, 0.01], registers: [r] });
  c.inc({ tier: 'PRO' }, calls);
  h.observe(seconds);
  return (await r.getMetricsAsJSON()) as MetricsJson;
}

test('merging sums counters and histogram buckets by label set; gauges are not kept', async () => {
  const merged = mergeJson([await part(2, 0.004), await part(3, 0.02)]);
  const x = merged.find((m) => m.name === 'tierbook_x_total')!;
  assert.deepEqual(x.values.map((v) => v.value), [5]);
  const y = merged.find((m) => m.name === 'tierbook_y_seconds')!;
  const values = y.values as { metricName?: string; labels: Record<string, unknown>; value: number }[];
  const bucket = (le: number | string) => values.find((v) => v.metricName === 'tierbook_y_seconds_bucket' && v.labels.le === le)?.value;
  assert.equal(bucket(0.005), 1);
  assert.equal(bucket('+Inf'), 2);
  const gauge = { name: 'tierbook_g', help: 'g', type: 'gauge', aggregator: 'sum', values: [{ labels: {}, value: 1 }] } as unknown as MetricsJson[number];
  assert.deepEqual(keepMonotonic([gauge, x]).map((m) => m.name), ['tierbook_x_total']);
});

test('the compliance ratio is met over calls of the summed window', () => {
  const g = (name: string, v: number) => ({ name, help: '', type: 'gauge', aggregator: 'sum', values: [{ labels: { tier: 'PRO', objective: 'seed' }, value: v }] }) as unknown as MetricsJson[number];
  const out = withComplianceRatio([g('tierbook_sla_window_calls', 8), g('tierbook_sla_window_met', 6)]);
  const ratio = out.find((m) => m.name === 'tierbook_sla_compliance_ratio')!;
  assert.deepEqual(ratio.values, [{ labels: { tier: 'PRO', objective: 'seed' }, value: 0.75 }]);
});

test('INFO memory: used_memory and maxmemory are read, a reply without them is refused', () => {
  const info = '# Memory\r\nused_memory:1034568\r\nused_memory_human:1010.32K\r\nmaxmemory:67108864\r\nmaxmemory_human:64.00M\r\n';
  assert.deepEqual(parseInfoMemory(info), { usedMemory: 1034568, maxMemory: 67108864 });
  assert.throws(() => parseInfoMemory('# Memory\r\nused_memory_human:1K\r\n'), /no used_memory field/);
});

test('CLUSTER NODES: every master with an address is listed, a failed one too; replicas are not', () => {
  const text = [
    'a1 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-5460',
    'b2 10.0.0.2:6379@16379,redis-b master,fail - 1 2 2 disconnected 5461-10922',
    'c3 10.0.0.3:6379@16379 slave a1 0 3 1 connected',
    'd4 :0@0 master,noaddr - 1 2 3 disconnected',
    '',
  ].join('\n');
  assert.deepEqual(clusterMasters(text), ['10.0.0.1:6379', '10.0.0.2:6379']);
});

test('traceparent: valid W3C values are read, malformed ones are no context', () => {
  assert.deepEqual(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'),
    { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentId: '00f067aa0ba902b7', sampled: true });
  assert.equal(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00')?.sampled, false);
  // A later version may append fields; version 00 may not.
  assert.equal(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future')?.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  for (const bad of [
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
    'not a traceparent',
    undefined,
  ]) assert.equal(parseTraceparent(bad), undefined, String(bad));
});
