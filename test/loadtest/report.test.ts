import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { renderMarkdown, writeReport, type RunReport } from '../../loadtest/report.js';
import { DEFAULT_SLAS, judge, parseSlaRules } from '../../loadtest/sla.js';
import { result, sample } from './support/sample-report.js';

/**
 * The report shows the right numbers against the right lines: SLA verdicts at their edges
 * (strict < versus inclusive <=) and a Markdown summary that names each failure (the charts:
 * charts.test.ts).
 */

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

describe('Markdown summary and files', () => {
  it('says when the measured run followed an unrecorded warm-up, and not otherwise', () => {
    const warm = sample();
    warm.settings = { ...warm.settings, warmupSec: 5 };
    assert.match(renderMarkdown(warm, []), /\*\*ghz:\*\* 10 s per stream, 300 calls\/s offered \(open loop\), 4 connections, concurrency 64, after 5 s of unrecorded warm-up at the same rate/);
    assert.doesNotMatch(renderMarkdown(sample(), []), /warm-up/);
  });

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

  it('writes report.json, summary.md and the charts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tierbook-report-'));
    try {
      const md = await writeReport(dir, sample());
      assert.equal(md, join(dir, 'summary.md'));
      for (const f of ['report.json', 'latency.svg', 'throughput.svg', 'errors.svg', 'sweep.svg']) assert.ok(existsSync(join(dir, f)), f);
      const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as RunReport;
      assert.equal(json.tiers.shared!.latencyMs.p99, 12.5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
