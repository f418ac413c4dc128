import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projectRoot } from '../../src/shared/paths.js';
import { needs } from '../support/required-tool.js';
import { startBaseline, type RunningBaseline } from '../../loadtest/baseline-process.js';
import { resolveGhzConfig } from '../../loadtest/ghz-config.js';
import { findGhz, runGhz } from '../../loadtest/ghz-process.js';
import { mergeStreams, parseGhzJson, percentile, summarise, type GhzReport } from '../../loadtest/ghz-result.js';
import { loadScenario } from '../../loadtest/scenario.js';

/**
 * The parser against real ghz output: a 2 s open-loop run at 300 calls/s against the baseline
 * echo (started by its CLI, as the runner does). Our percentiles must equal ghz's own, counts
 * must add up, and the per-second series must cover the run.
 */

const ghz = findGhz(projectRoot);

describe('percentile (nearest rank)', () => {
  it('picks the smallest value with p % at or below it', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(v, 50), 50);
    assert.equal(percentile(v, 99), 99);
    assert.equal(percentile(v, 99.9), 100);
    assert.equal(percentile([7], 99), 7);
    assert.equal(percentile([], 50), 0);
  });
});

describe('parseGhzJson', () => {
  it('refuses text that is not a ghz JSON report, saying why', () => {
    assert.throws(() => parseGhzJson('Summary:\n  Count: 3'), /not JSON.*--format json/s);
    assert.throws(() => parseGhzJson('{"foo":1}'), /not a ghz --format json report/);
  });
});

describe('a real ghz run against the baseline echo', { skip: needs('ghz', Boolean(ghz), 'npm run loadtest installs it') }, () => {
  let baseline: RunningBaseline;
  let dir: string;
  let report: GhzReport;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tierbook-ghz-'));
    baseline = await startBaseline(projectRoot);
    const scenario = loadScenario(projectRoot, 'premium-orders');
    const stream = scenario.streams[0]!;
    const output = join(dir, 'out.json');
    const config = resolveGhzConfig(projectRoot, stream, 'test', { symbol: 'AAPL', midTicks: 10_000, tick: 1, qtyUnit: 1, qtyMax: 5 }, {
      host: `${baseline.host}:${baseline.ports[0]}`,
      rps: 300,
      durationSec: 2,
      connections: 2,
      concurrency: 8,
      output,
    });
    report = await runGhz(ghz!, join(dir, 'config.json'), config, 2);
  });

  after(async () => {
    await baseline?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every call in details and counts them consistently', () => {
    const s = summarise(report);
    assert.equal(report.details!.length, report.count);
    assert.equal(s.count, report.count);
    assert.equal(s.ok + s.errors, s.count);
    assert.equal(s.ok, report.statusCodeDistribution.OK);
    // Open loop at 300/s for 2 s: about 600 calls, none failed against a bare echo.
    assert.ok(s.count >= 540 && s.count <= 610, `count ${s.count}`);
    assert.equal(s.errors, 0, JSON.stringify(s.statuses));
    assert.ok(Math.abs(s.okPerSec - 300) < 30, `ok/s ${s.okPerSec}`);
    assert.equal(s.call, 'tierbook.v1.OrderService/PlaceOrder');
  });

  it('computes the same percentiles as ghz itself', () => {
    const s = summarise(report);
    for (const p of ['p50', 'p90', 'p95', 'p99'] as const) {
      // ghz passes latencies through float seconds, so allow a nanosecond or so of rounding.
      assert.ok(Math.abs(s.latencyMs[p] - s.ghzLatencyMs[p]!) < 1e-5, `${p}: ours ${s.latencyMs[p]} vs ghz ${s.ghzLatencyMs[p]}`);
    }
    assert.ok(s.latencyMs.p50 <= s.latencyMs.p99 && s.latencyMs.p99 <= s.latencyMs.max);
  });

  it('slices the run into seconds that add up to the total', () => {
    const s = summarise(report);
    assert.ok(s.series.length >= 2 && s.series.length <= 3, `series of ${s.series.length} s`);
    assert.equal(s.series.reduce((n, x) => n + x.ok + x.errors, 0), s.count);
    assert.deepEqual(s.series.map((x) => x.second), s.series.map((_, i) => i));
  });

  it('merges streams by adding counts and re-ranking latencies', () => {
    const m = mergeStreams([report, report]);
    assert.equal(m.count, 2 * report.count);
    assert.equal(m.latencyMs.p99, summarise(report).latencyMs.p99);
  });
});
