import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StreamResult } from './ghz-result.js';
import type { SlaRule, SlaVerdict, TierName } from './sla.js';
import { stageTable, type StageRow } from './stage-table.js';
import { errorsChart, latencyChart, sweepChart, throughputChart } from './charts.js';
import { fmt } from './format.js';
import { renderSvg } from './vega-render.js';

/**
 * The report a person reads after a run: report.json (everything, minus ghz's raw per-call
 * details, which stay in ghz/*.json), summary.md with the verdicts and tables, and SVG charts
 * next to it (charts.ts: Vega-Lite specs, drawn headless by vega). Rendering the summary is
 * pure (data in, strings out) so tests can check the numbers.
 */

export interface StreamRun {
  name: string;
  tier: TierName | 'baseline';
  /** The rate asked of ghz; 0 = as fast as the concurrency allows (closed loop). */
  rps: number;
  result: StreamResult;
}

export interface SweepStep {
  rps: number;
  okPerSec: number;
  /** p99 per tier; "all" when the target has no tiers (the baseline). */
  p99Ms: Partial<Record<TierName | 'all', number>>;
  /** p95 per tier, the percentile of the sweep's pass mark (the seed SLAs). */
  p95Ms?: Partial<Record<TierName | 'all', number>>;
  /** 'confirm' marks the full-length run at the maximum, drawn apart from the short steps. */
  kind?: 'step' | 'confirm';
  errorRate: number;
  pass: boolean;
}

export interface InvariantCheck {
  name: string;
  pass: boolean | null;
  detail: string;
}

export interface RunReport {
  scenario: string;
  description: string;
  startedAt: string;
  machine: string;
  target: string;
  settings: { durationSec: number; rps: number; connections: number; concurrency: number;
    /** Seconds of unrecorded load before the measured run (plain runs; a sweep has its own). */
    warmupSec?: number };
  streams: StreamRun[];
  tiers: Partial<Record<TierName, StreamResult>>;
  baseline: { label: string; result: StreamResult }[];
  /**
   * Target over baseline, measured in this run with the same call, data and ghz settings.
   * Latency ratios are null where the two ran at different loads (capacity comparisons).
   */
  ratio: { label: string; throughput: number; p50: number | null; p99: number | null }[];
  slaRules: SlaRule[];
  verdicts: SlaVerdict[];
  invariants: InvariantCheck[];
  /**
   * maxSustainedRps: passed the short steps and the full-length confirmation; stepMaxRps: the
   * highest rate that passed a short step (differs when the confirmation failed).
   */
  sweep?: { steps: SweepStep[]; maxSustainedRps: number | null; stepMaxRps?: number | null };
  /** Per tier and stage, where the time went (the plain run, or the sweep's half-load run). */
  stages?: StageRow[];
}

/** What a run knows before it measures: the report without its results. */
export type RunBase = Omit<RunReport, 'streams' | 'tiers' | 'baseline' | 'ratio' | 'verdicts' | 'invariants' | 'settings' | 'stages'>;

function statuses(s: StreamResult): string {
  return Object.entries(s.statuses).map(([k, v]) => `${k} ${v}`).join(', ') || '—';
}

function row(cells: (string | number)[]): string {
  return `| ${cells.join(' | ')} |`;
}

/** The Markdown summary; chart file names are relative to the report folder. */
export function renderMarkdown(r: RunReport, charts: string[]): string {
  const L: string[] = [];
  const failed = r.verdicts.filter((v) => !v.pass).length;
  L.push(`# Load test: ${r.scenario}`, '');
  L.push(`${r.description}`, '');
  L.push(`- **When:** ${r.startedAt}`, `- **Machine:** ${r.machine}`, `- **Target:** ${r.target}`);
  L.push(`- **ghz:** ${r.settings.durationSec} s per stream, ${r.settings.rps ? `${r.settings.rps} calls/s offered (open loop)` : 'closed loop (no rate limit)'}, ${r.settings.connections} connections, concurrency ${r.settings.concurrency}${r.settings.warmupSec ? `, after ${r.settings.warmupSec} s of unrecorded warm-up at the same rate` : ''}`);
  L.push(`- **Verdict:** ${r.verdicts.length === 0 ? 'no SLA applies to this scenario' : failed === 0 ? `all ${r.verdicts.length} SLAs pass` : `${failed} of ${r.verdicts.length} SLAs fail`}`, '');

  if (r.verdicts.length) {
    L.push('## SLAs', '', row(['SLA', 'measured', 'errors', 'result']), row(['---', '---:', '---:', '---']));
    for (const v of r.verdicts) {
      L.push(row([v.rule.name, `${v.rule.percentile} ${fmt(v.measuredMs)} ms`, `${(v.errorRate * 100).toFixed(2)} %`, v.pass ? 'PASS' : `**FAIL** (${v.why})`]));
    }
    L.push('');
  }

  L.push('## Per tier and stream', '', row(['stream', 'tier', 'offered/s', 'OK/s', 'calls', 'p50 ms', 'p90 ms', 'p95 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'statuses']));
  L.push(row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---']));
  const line = (name: string, tier: string, rps: number | string, s: StreamResult) =>
    row([name, tier, rps || 'max', fmt(s.okPerSec), s.count, fmt(s.latencyMs.p50), fmt(s.latencyMs.p90), fmt(s.latencyMs.p95), fmt(s.latencyMs.p99), fmt(s.latencyMs.p999), fmt(s.latencyMs.max), statuses(s)]);
  for (const s of r.streams) L.push(line(s.name, s.tier, s.rps, s.result));
  for (const [tier, s] of Object.entries(r.tiers)) {
    const offered = r.streams.filter((x) => x.tier === tier).reduce((n, x) => n + x.rps, 0);
    L.push(line(`**all ${tier}**`, tier, offered, s));
  }
  L.push('');

  L.push(...stageTable(r.stages ?? []));

  if (r.ratio.length) {
    L.push('## Ratio to the baseline echo (same run, same ghz settings)', '', row(['compared', 'throughput ratio', 'p50 ratio', 'p99 ratio']), row(['---', '---:', '---:', '---:']));
    const x = (v: number | null) => (v === null ? '—' : `${v.toFixed(1)}x`);
    for (const q of r.ratio) L.push(row([q.label, q.throughput.toFixed(2), x(q.p50), x(q.p99)]));
    L.push('', 'Throughput ratio = target OK calls/s ÷ baseline OK calls/s. At a fixed offered rate both may reach it (ratio 1.00); the capacity ratio comes from closed-loop runs (`--rps 0`) or the sweep.', '');
  }

  if (r.sweep) {
    const { maxSustainedRps: max, stepMaxRps: stepMax } = r.sweep;
    const verdict =
      max !== null ? `${max} calls/s` : stepMax ? `none sustained: ${stepMax} calls/s passed a short step but not the full-length confirmation` : 'none of the steps passed';
    L.push('## Sweep', '', `Highest offered rate within every SLA: **${verdict}**`, '');
    const cols = [...new Set(r.sweep.steps.flatMap((s) => Object.keys(s.p99Ms)))] as (keyof SweepStep['p99Ms'])[];
    L.push(row(['offered/s', 'OK/s', ...cols.map((t) => `${t} p99 ms`), 'errors', 'result']), row(['---:', '---:', ...cols.map(() => '---:'), '---:', '---']));
    for (const s of r.sweep.steps) {
      const p99 = cols.map((t) => (s.p99Ms[t] === undefined ? '—' : fmt(s.p99Ms[t]!)));
      const rate = s.kind === 'confirm' ? `${s.rps} (confirm, full length)` : s.rps;
      L.push(row([rate, fmt(s.okPerSec), ...p99, `${(s.errorRate * 100).toFixed(2)} %`, s.pass ? 'PASS' : 'FAIL']));
    }
    L.push('');
  }

  if (r.invariants.length) {
    L.push('## Invariants after the run', '', row(['check', 'result', 'detail']), row(['---', '---', '---']));
    for (const c of r.invariants) L.push(row([c.name, c.pass === null ? 'SKIPPED' : c.pass ? 'PASS' : '**FAIL**', c.detail]));
    L.push('');
  }

  L.push('## Charts', '');
  for (const c of charts) L.push(`![${c}](${c})`, '');
  return L.join('\n');
}

/** Writes report.json, the SVGs and summary.md into `dir`; returns the summary's path. */
export async function writeReport(dir: string, r: RunReport): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const charts = [
    ['latency.svg', latencyChart(r)],
    ['throughput.svg', throughputChart(r)],
    ['errors.svg', errorsChart(r)],
    ['sweep.svg', sweepChart(r)],
  ] as const;
  const written: string[] = [];
  for (const [name, spec] of charts) {
    if (spec === null) continue;
    writeFileSync(join(dir, name), await renderSvg(spec));
    written.push(name);
  }
  writeFileSync(join(dir, 'report.json'), JSON.stringify(r, null, 2));
  const md = join(dir, 'summary.md');
  writeFileSync(md, renderMarkdown(r, written));
  return md;
}
