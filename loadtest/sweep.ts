import type { InvariantCheck, RunBase, RunReport, StreamRun, SweepStep } from './report.js';
import { measure, measureBaseline, type Measured, type RunContext } from './run-scenario.js';
import type { Scenario } from './scenario.js';
import { errorRate, judge, type SlaRule } from './sla.js';

/**
 * Finds the highest offered rate the target sustains within its SLAs, in a bounded number of
 * short open-loop steps: rates grow geometrically until a step fails, then two bisection steps
 * narrow the gap. Then two full-length runs: at the maximum (is it sustained, with every order
 * in Postgres?) and at half of it, where our stricter p99 targets are judged.
 */

/** A baseline echo to compare with: direct, or behind its own nginx. */
export interface BaselineTarget {
  label: string;
  host: string;
}

export interface SweepOptions {
  from: number;
  factor: number;
  maxSteps: number;
  stepSec: number;
  durationSec: number;
  invariants: (m: Measured) => Promise<InvariantCheck[]>;
}

/**
 * A step passes when the 'always' SLAs hold, at most 0.1 % of calls fail, and the target
 * answered at least 95 % of the offered rate (a server that falls behind is not sustaining it).
 */
export function stepPasses(rules: SlaRule[], m: Measured, offered: number): boolean {
  const always = judge(rules.filter((r) => r.when === 'always'), m.tiers);
  return always.every((v) => v.pass) && errorRate(m.all) <= 0.001 && m.all.okPerSec >= 0.95 * offered;
}

function toStep(rules: SlaRule[], m: Measured, rps: number): SweepStep {
  const p99Ms: SweepStep['p99Ms'] = {};
  const p95Ms: NonNullable<SweepStep['p95Ms']> = {};
  for (const [t, r] of Object.entries(m.tiers)) {
    p99Ms[t as keyof typeof p99Ms] = r.latencyMs.p99;
    p95Ms[t as keyof typeof p95Ms] = r.latencyMs.p95;
  }
  if (Object.keys(p99Ms).length === 0) {
    p99Ms.all = m.all.latencyMs.p99;
    p95Ms.all = m.all.latencyMs.p95;
  }
  return { rps, okPerSec: m.all.okPerSec, p99Ms, p95Ms, errorRate: errorRate(m.all), pass: stepPasses(rules, m, rps), kind: 'step' };
}

/**
 * How many full-length confirmations are tried: the passing step rates from the highest down,
 * then lower rates (each the previous divided by the factor) until one holds.
 */
const CONFIRM_TRIES = 4;

/** Seconds of unrecorded load before the first step. */
const WARMUP_SEC = 10;

/** The rates to confirm at full length, highest first. */
export function confirmCandidates(passedRps: number[], factor: number, tries = CONFIRM_TRIES): number[] {
  const out = [...new Set(passedRps)].sort((a, b) => b - a).slice(0, tries);
  while (out.length > 0 && out.length < tries) {
    const next = Math.round(out.at(-1)! / factor);
    if (next < 1 || next === out.at(-1)) break;
    out.push(next);
  }
  return out;
}

export async function sweep(
  ctx: RunContext,
  scenario: Scenario,
  target: string,
  baselineTargets: BaselineTarget[],
  base: RunBase,
  rules: SlaRule[],
  o: SweepOptions,
): Promise<RunReport> {
  if (!(o.factor > 1)) throw new Error(`--factor must be > 1, got ${o.factor}`);
  const steps: SweepStep[] = [];
  const step = async (rps: number) => {
    const m = await measure(ctx, scenario, target, rps, o.stepSec, `s${steps.length + 1}`);
    const s = toStep(rules, m, rps);
    steps.push(s);
    console.log(`  step ${steps.length}: ${rps}/s offered -> ${s.okPerSec.toFixed(0)}/s OK, p99 ${Object.entries(s.p99Ms).map(([t, v]) => `${t} ${v.toFixed(2)} ms`).join(', ')} -> ${s.pass ? 'PASS' : 'FAIL'}`);
    return s.pass;
  };

  // Warm up first, unrecorded: on a fresh stack the first seconds (JIT, connections, pools
  // growing, empty caches) would otherwise fail the first step for reasons a running
  // service does not have.
  console.log(`warming up: ${WARMUP_SEC} s at ${Math.max(1, Math.round(o.from / 2))}/s (not recorded)`);
  await measure(ctx, scenario, target, Math.max(1, Math.round(o.from / 2)), WARMUP_SEC, 'warmup');
  let lastPass: number | null = null;
  let firstFail: number | null = null;
  for (let rps = o.from, i = 0; i < o.maxSteps; i++, rps = Math.round(rps * o.factor)) {
    if (await step(rps)) lastPass = rps;
    else {
      firstFail = rps;
      break;
    }
  }
  // Two bisection steps between the last pass and the first failure (skipped if none failed).
  for (let i = 0; i < 2 && firstFail !== null; i++) {
    const lo = lastPass ?? Math.round(firstFail / o.factor / 2);
    const mid = Math.round((lo + firstFail) / 2);
    if (mid <= lo || mid >= firstFail) break;
    if (await step(mid)) lastPass = mid;
    else firstFail = mid;
  }

  const streams: StreamRun[] = [];
  const baseline: RunReport['baseline'] = [];
  const ratio: RunReport['ratio'] = [];
  let invariants: InvariantCheck[] = [];
  let stages: Measured['stages'] = [];
  let tiers: Measured['tiers'] = {};
  let verdicts: RunReport['verdicts'] = [];
  // Confirm at full length, from the highest passing step down: a rate that held for a short
  // step can still fail over a minute (queues, AOF rewrites, sync batches catch up with it).
  let confirmedRps: number | null = null;
  let confirm: Measured | undefined;
  for (const candidate of confirmCandidates(steps.filter((x) => x.pass).map((x) => x.rps), o.factor)) {
    console.log(`confirming ${candidate}/s for ${o.durationSec} s`);
    // Each confirmation has its own tag: its client order ids must not repeat an earlier
    // one's (they would be answered ALREADY_EXISTS), and its ghz files must not replace them.
    confirm = await measure(ctx, scenario, target, candidate, o.durationSec, `max${candidate}`);
    const confirmStep = toStep(rules, confirm, candidate);
    steps.push({ ...confirmStep, kind: 'confirm' });
    if (confirmStep.pass) {
      confirmedRps = candidate;
      break;
    }
  }
  if (lastPass !== null && confirm) {
    // Nothing held at full length: half of the highest short step still shows the latencies.
    const max = confirmedRps ?? lastPass;
    invariants = await o.invariants(confirm);
    const halfRps = Math.max(1, Math.round(max / 2));
    const half = await measure(ctx, scenario, target, halfRps, o.durationSec, 'half');
    stages = half.stages;
    streams.push(...half.streams);
    tiers = half.tiers;
    // A tierless target (the baseline itself) is charted as the baseline.
    if (scenario.target === 'baseline') for (const st of half.streams) baseline.push({ label: st.name, result: st.result });
    verdicts = judge(rules, half.tiers);
    for (const b of baselineTargets) {
      // Capacity against capacity: the baseline as fast as it goes with the same ghz settings.
      const cap = await measureBaseline(ctx, scenario, b.host, `${b.label}-capacity`, 0, o.durationSec);
      const same = await measureBaseline(ctx, scenario, b.host, `${b.label}-at-half`, halfRps, o.durationSec);
      streams.unshift(cap, same);
      baseline.push({ label: `${b.label} at half-max rate`, result: same.result });
      ratio.push({
        label: `max sustained vs ${b.label} capacity`,
        throughput: confirm.all.okPerSec / Math.max(1e-9, cap.result.okPerSec),
        // Latencies at a sustainable rate against a saturated closed loop say nothing.
        p50: null,
        p99: null,
      });
      ratio.push({
        label: `half-max run vs ${b.label} at the same rate`,
        throughput: half.all.okPerSec / Math.max(1e-9, same.result.okPerSec),
        p50: half.all.latencyMs.p50 / Math.max(1e-9, same.result.latencyMs.p50),
        p99: half.all.latencyMs.p99 / Math.max(1e-9, same.result.latencyMs.p99),
      });
    }
  }
  const confirmed = confirmedRps;
  return {
    ...base,
    description: `${base.description} Sweep: ${o.stepSec} s steps from ${o.from}/s x${o.factor}; the last row is the ${o.durationSec} s confirmation at the maximum; the tables above the sweep are the run at half of it.`,
    settings: { durationSec: o.durationSec, rps: lastPass === null ? 0 : Math.round(lastPass / 2), connections: ctx.connections, concurrency: ctx.concurrency },
    streams,
    tiers,
    baseline,
    ratio,
    verdicts,
    invariants,
    sweep: { steps, maxSustainedRps: confirmed, stepMaxRps: lastPass },
    stages,
  };
}
