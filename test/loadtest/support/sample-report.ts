import type { StreamResult } from '../../../loadtest/ghz-result.js';
import type { RunReport } from '../../../loadtest/report.js';
import { DEFAULT_SLAS, judge } from '../../../loadtest/sla.js';

/** A run's result with the given percentiles, `count` calls of which `errors` failed, over 10 s. */
export function result(p: { p50: number; p95: number; p99: number }, count = 1000, errors = 0): StreamResult {
  return {
    call: 'tierbook.v1.OrderService/PlaceOrder',
    count,
    ok: count - errors,
    errors,
    callsPerSec: count / 10,
    okPerSec: (count - errors) / 10,
    durationSec: 10,
    statuses: errors ? { OK: count - errors, ResourceExhausted: errors } : { OK: count },
    latencyMs: { p50: p.p50, p90: p.p95, p95: p.p95, p99: p.p99, p999: p.p99, max: p.p99 },
    series: Array.from({ length: 10 }, (_, i) => ({ second: i, ok: (count - errors) / 10, errors: errors / 10, p99Ms: p.p99 })),
    ghzLatencyMs: {},
  };
}

/** A small mixed-orders run: two tiers, one baseline, two sweep steps. */
export function sample(): RunReport {
  const premium = result({ p50: 1.2, p95: 50, p99: 5 });
  const shared = result({ p50: 3.4, p95: 42, p99: 12.5 }, 2000, 10);
  const echo = result({ p50: 0.4, p95: 0.9, p99: 1.5 });
  const tiers = { premium, shared };
  return {
    scenario: 'mixed-orders',
    description: 'test',
    startedAt: '2026-11-22T00:00:00Z',
    machine: 'test box',
    target: 'nowhere',
    settings: { durationSec: 10, rps: 300, connections: 4, concurrency: 64 },
    streams: [
      { name: 'baseline-echo', tier: 'baseline', rps: 300, result: echo },
      { name: 'premium-maker', tier: 'premium', rps: 100, result: premium },
      { name: 'shared-maker', tier: 'shared', rps: 200, result: shared },
    ],
    tiers,
    baseline: [{ label: 'baseline-echo', result: echo }],
    ratio: [{ label: 'all vs echo', throughput: 0.61, p50: 3, p99: 8.3 }],
    slaRules: [...DEFAULT_SLAS],
    verdicts: judge(DEFAULT_SLAS, tiers),
    invariants: [{ name: 'every accepted order is in Postgres', pass: null, detail: 'table orders does not exist yet' }],
    sweep: { steps: [{ rps: 1000, okPerSec: 1000, p99Ms: { premium: 2, shared: 4 }, errorRate: 0, pass: true }, { rps: 1500, okPerSec: 1400, p99Ms: { premium: 30, shared: 80 }, errorRate: 0.01, pass: false }], maxSustainedRps: 1000 },
  };
}
