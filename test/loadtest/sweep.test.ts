import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamResult } from '../../loadtest/ghz-result.js';
import type { Measured } from '../../loadtest/run-scenario.js';
import { DEFAULT_SLAS } from '../../loadtest/sla.js';
import { confirmCandidates, stepPasses } from '../../loadtest/sweep.js';

/**
 * The sweep's pass mark: a rate counts as sustained only if the seed SLAs hold, errors stay
 * at or under 0.1 %, and the target answered at least 95 % of the offered rate. The stricter
 * p99 targets are for half of the maximum, so they must not fail a step.
 */

function stream(p95: number, p99: number, okPerSec: number, errors = 0): StreamResult {
  const count = 10_000;
  return {
    call: 'x', count, ok: count - errors, errors, callsPerSec: okPerSec, okPerSec, durationSec: 10, statuses: {},
    latencyMs: { p50: 1, p90: p95, p95, p99, p999: p99, max: p99 }, series: [], ghzLatencyMs: {},
  };
}

function measured(premium: StreamResult, okPerSec: number): Measured {
  return { streams: [], tiers: { premium }, all: { ...premium, okPerSec }, acceptedOrders: 0, orderPrefix: 'lt-test', stages: [] };
}

describe('sweep step verdict', () => {
  it('passes when the seed SLA holds even though the p99 target does not', () => {
    assert.equal(stepPasses([...DEFAULT_SLAS], measured(stream(40, 45, 1000), 1000), 1000), true);
  });
  it('fails when p95 reaches the seed SLA', () => {
    assert.equal(stepPasses([...DEFAULT_SLAS], measured(stream(50, 60, 1000), 1000), 1000), false);
  });
  it('fails when the target falls behind the offered rate', () => {
    assert.equal(stepPasses([...DEFAULT_SLAS], measured(stream(10, 20, 900), 900), 1000), false);
  });
  it('fails when more than 0.1 % of calls fail', () => {
    assert.equal(stepPasses([...DEFAULT_SLAS], measured(stream(10, 20, 1000, 11), 1000), 1000), false);
  });
});

describe('sweep confirmation rates', () => {
  it('tries the passing steps from the highest down, then lower rates by the factor', () => {
    assert.deepEqual(confirmCandidates([500, 781, 625], 1.25), [781, 625, 500, 400]);
    assert.deepEqual(confirmCandidates([1000], 2), [1000, 500, 250, 125]);
  });
  it('tries nothing when no step passed, and never repeats or reaches zero', () => {
    assert.deepEqual(confirmCandidates([], 1.25), []);
    assert.deepEqual(confirmCandidates([2, 2], 1.25), [2]);
  });
});
