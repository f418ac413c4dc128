import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { StreamResult } from '../../loadtest/ghz-result.js';
import { latencyChart, renderMarkdown, sweepChart, writeReport, type RunReport } from '../../loadtest/report.js';
import { DEFAULT_SLAS, judge, parseSlaRules } from '../../loadtest/sla.js';

/**
 * The report shows the right numbers against the right lines: SLA verdicts at their edges
 * (strict < versus inclusive <=), SVG limit lines at the SLA values, bars at the measured
 * percentiles, and a Markdown summary that names each failure.
 */

function result(p: { p50: number; p95: number; p99: number }, count = 1000, errors = 0): StreamResult {
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

function sample(): RunReport {
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

describe('SLA verdicts', () => {
  it('treats "<" as strict and "<=" as inclusive, and counts errors', () => {
    const v = Object.fromEntries(sample().verdicts.map((x) => [x.rule.name, x]));
    assert.equal(v['seed: premium p95 < 50 ms']!.pass, false, 'p95 of exactly 50 ms is not < 50 ms');
    assert.equal(v['target: premium p99 <= 5 ms']!.pass, true, 'p99 of exactly 5 ms is <= 5 ms');
    // Shared: p95 42 ms is fine, but 10 of 2000 calls failed (0.5 % > 0.1 %).
    assert.equal(v['seed: shared p95 < 100 ms']!.pass, false);
    assert.match(v['seed: shared p95 < 100 ms']!.why, /error rate 0\.50 %/);
    assert.match(v['target: shared p99 <= 10 ms']!.why, /p99 12\.50 ms > 10 ms/);
  });

  it('skips rules of tiers that were not measured', () => {
    assert.equal(judge(DEFAULT_SLAS, { premium: result({ p50: 1, p95: 2, p99: 3 }) }).length, 2);
  });

  it('reads SLA files and rejects wrong fields by name', () => {
    const rules = parseSlaRules('[{"name":"x","tier":"premium","percentile":"p99","maxMs":2}]');
    assert.deepEqual(rules[0], { name: 'x', tier: 'premium', percentile: 'p99', maxMs: 2, inclusive: true, maxErrorRate: 0.001, when: 'always' });
    assert.throws(() => parseSlaRules('[{"name":"x","tier":"gold","percentile":"p99","maxMs":2}]'), /"tier"/);
    assert.throws(() => parseSlaRules('[{"name":"x","tier":"shared","percentile":"p42","maxMs":2}]'), /"percentile"/);
  });
});

describe('latency chart', () => {
  const svg = latencyChart(sample());

  it('draws one dashed line per SLA at its value', () => {
    const limits = [...svg.matchAll(/<line class="limit" data-label="([^"]+)" data-value="([^"]+)"/g)].map((m) => [m[1], Number(m[2])]);
    assert.deepEqual(limits, [
      ['seed: premium p95 &lt; 50 ms', 50],
      ['seed: shared p95 &lt; 100 ms', 100],
      ['target: premium p99 &lt;= 5 ms', 5],
      ['target: shared p99 &lt;= 10 ms', 10],
    ]);
  });

  it('draws a bar per percentile and tier at the measured value, the 5 ms bar level with the 5 ms line', () => {
    const bars = new Map([...svg.matchAll(/<rect class="bar" data-label="([^"]+)" data-value="([^"]+)" x="[^"]+" y="([^"]+)"/g)].map((m) => [m[1], { v: Number(m[2]), y: Number(m[3]) }]));
    assert.equal(bars.size, 4 * 3);
    assert.equal(bars.get('p99 shared')!.v, 12.5);
    assert.equal(bars.get('p50 baseline-echo')!.v, 0.4);
    const line5 = Number(/data-value="5" x1="\d+" x2="\d+" y1="([\d.]+)"/.exec(svg)![1]);
    assert.equal(bars.get('p99 premium')!.y, line5);
    assert.ok(bars.get('p99 shared')!.y < line5, 'a larger value is drawn higher');
    assert.ok(svg.startsWith('<svg') && svg.endsWith('</svg>'));
  });

  it('draws the sweep with the p99 target lines', () => {
    const s = sweepChart(sample())!;
    assert.match(s, /data-label="target: premium p99 &lt;= 5 ms" data-value="5"/);
    assert.equal((s.match(/<path class="series"/g) ?? []).length, 2);
  });
});

describe('Markdown summary and files', () => {
  it('states verdicts, figures and ratios, and links the charts', () => {
    const r = sample();
    const md = renderMarkdown(r, ['latency.svg']);
    assert.match(md, /3 of 4 SLAs fail/);
    assert.match(md, /\| target: premium p99 <= 5 ms \| p99 5\.00 ms \| 0\.00 % \| PASS \|/);
    assert.match(md, /\*\*FAIL\*\* \(p95 50\.00 ms >= 50 ms\)/);
    assert.match(md, /\| all vs echo \| 0\.61 \| 3\.0x \| 8\.3x \|/);
    assert.match(md, /Highest offered rate within every SLA: \*\*1000 calls\/s\*\*/);
    assert.match(md, /SKIPPED \| table orders does not exist yet/);
    assert.match(md, /!\[latency\.svg\]\(latency\.svg\)/);
  });

  it('writes report.json, summary.md and the charts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tierbook-report-'));
    try {
      const md = writeReport(dir, sample());
      assert.equal(md, join(dir, 'summary.md'));
      for (const f of ['report.json', 'latency.svg', 'throughput.svg', 'errors.svg', 'sweep.svg']) assert.ok(existsSync(join(dir, f)), f);
      const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as RunReport;
      assert.equal(json.tiers.shared!.latencyMs.p99, 12.5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
