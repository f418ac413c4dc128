import type { TopLevelSpec } from 'vega-lite';
import type { RunReport } from './report.js';
import type { TierName } from './sla.js';
import { CHART_CONFIG } from './vega-render.js';

/**
 * The report's charts as Vega-Lite specs with their data inline: pure (report in, spec out),
 * so tests can read the numbers a chart draws; `renderSvg` turns a spec into the SVG file.
 * One spec per chart: latency per tier against the SLA lines, OK and failed calls per second
 * over the run, the sweep's latency against the offered rate, and a soak's memory over time.
 */

const TIER_COLOR: Record<string, string> = { premium: '#6a3d9a', shared: '#1f78b4', all: '#999999' };
const BASELINE_GREYS = ['#bdbdbd', '#737373', '#525252'];
const PALETTE = ['#1f78b4', '#6a3d9a', '#33a02c', '#ff7f00', '#e31a1c', '#b15928', '#a6cee3', '#999999'];
const LIMIT_COLORS = ['#e31a1c', '#ff7f00', '#b15928', '#fb9a99'];
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
/** Log axes need a floor above zero: 0.1 ms, below any call through the network stack. */
const LOG_AXIS_MIN_MS = 0.1;

/**
 * A layer as plain JSON. Vega-Lite's own types would need every literal ('nominal', 'line')
 * spelled as a const; vega-lite checks the compiled spec when it renders, and the report
 * tests render every chart.
 */
type Layer = Record<string, unknown>;

/** A limit drawn as a dashed horizontal line across the chart, one colour each, in a legend. */
export interface LimitLine {
  label: string;
  value: number;
}

function limitLayer(limits: LimitLine[], title: string): Layer {
  return {
    name: 'limits',
    data: { values: limits.map((l) => ({ limit: l.label, value: l.value })) },
    mark: { type: 'rule', strokeDash: [6, 3], strokeWidth: 2 },
    encoding: {
      y: { field: 'value', type: 'quantitative' },
      color: { field: 'limit', type: 'nominal', title, scale: { domain: limits.map((l) => l.label), range: LIMIT_COLORS } },
    },
  };
}

function chart(title: string, layers: Layer[], independentColors: boolean): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title,
    width: CHART_CONFIG.width,
    height: CHART_CONFIG.height,
    background: 'white',
    config: { font: CHART_CONFIG.font, legend: { labelLimit: 260 } },
    layer: layers,
    ...(independentColors ? { resolve: { scale: { color: 'independent' } } } : {}),
  } as unknown as TopLevelSpec;
}

/** The SLA rules of the tiers a run measured, as limit lines. */
function slaLimits(r: RunReport, tiers: string[], percentiles?: string[]): LimitLine[] {
  return r.slaRules
    .filter((rule) => tiers.includes(rule.tier) && (!percentiles || percentiles.includes(rule.percentile)))
    .map((rule) => ({ label: rule.name, value: rule.maxMs }));
}

/** Latency percentiles per tier (and each baseline) as grouped bars, log scale, with every SLA line. */
export function latencyChart(r: RunReport): TopLevelSpec {
  const series = [...Object.keys(r.tiers), ...r.baseline.map((b) => b.label)];
  const colors = [...Object.keys(r.tiers).map((t) => TIER_COLOR[t]!), ...r.baseline.map((_, i) => BASELINE_GREYS[i % BASELINE_GREYS.length]!)];
  const percentiles = ['p50', 'p90', 'p95', 'p99'] as const;
  const bars = percentiles.flatMap((p) => [
    ...Object.entries(r.tiers).map(([tier, s]) => ({ percentile: p, series: tier, ms: s.latencyMs[p] })),
    ...r.baseline.map((b) => ({ percentile: p, series: b.label, ms: b.result.latencyMs[p] })),
  ]);
  const x = { field: 'percentile', type: 'nominal', sort: [...percentiles], title: null, axis: { labelAngle: 0 } };
  const xOffset = { field: 'series', type: 'nominal', sort: series };
  const y = { field: 'ms', type: 'quantitative', title: 'ms (log scale)', scale: { type: 'log', domainMin: LOG_AXIS_MIN_MS } };
  return chart(`Latency per tier — ${r.scenario}`, [
    {
      name: 'bars',
      data: { values: bars },
      mark: { type: 'bar', tooltip: true, clip: true },
      // On a log axis a bar must say where it starts (zero is not on it).
      encoding: { x, xOffset, y, y2: { datum: LOG_AXIS_MIN_MS }, color: { field: 'series', type: 'nominal', title: 'measured', scale: { domain: series, range: colors } } },
    },
    {
      data: { values: bars },
      mark: { type: 'text', dy: -5, fontSize: 9 },
      encoding: { x, xOffset, y, text: { field: 'ms', type: 'quantitative', format: '.3~r' } },
    },
    limitLayer(slaLimits(r, Object.keys(r.tiers)), 'SLA'),
  ], true);
}

/** One line per stream over the run's seconds. */
function perSecondChart(r: RunReport, title: string, yTitle: string, value: (p: RunReport['streams'][number]['result']['series'][number]) => number): TopLevelSpec {
  const names = r.streams.map((s) => `${s.name} (${s.tier})`);
  const rows = r.streams.flatMap((s, i) => s.result.series.map((p) => ({ stream: names[i]!, second: p.second, value: value(p) })));
  // A run without a single error still gets a readable 0..1 axis, not a collapsed one.
  const allZero = rows.every((x) => x.value === 0);
  return chart(title, [{
    name: 'series',
    data: { values: rows },
    mark: { type: 'line', strokeWidth: 2 },
    encoding: {
      x: { field: 'second', type: 'quantitative', title: 'seconds into the run' },
      y: { field: 'value', type: 'quantitative', title: yTitle, scale: allZero ? { domain: [0, 1] } : { zero: true } },
      color: { field: 'stream', type: 'nominal', title: 'stream', scale: { domain: names, range: PALETTE } },
    },
  }], false);
}

/** OK calls per second over the run, one line per stream (baseline runs before the target). */
export function throughputChart(r: RunReport): TopLevelSpec {
  return perSecondChart(r, 'OK calls per second', 'calls/s', (p) => p.ok);
}

/** Failed calls per second over the run, one line per stream. */
export function errorsChart(r: RunReport): TopLevelSpec {
  return perSecondChart(r, 'Failed calls per second', 'errors/s', (p) => p.errors);
}

/** Sweep: p95 and p99 per tier against the offered rate (short steps, by rate), with SLA lines. */
export function sweepChart(r: RunReport): TopLevelSpec | null {
  if (!r.sweep || r.sweep.steps.length === 0) return null;
  const steps = r.sweep.steps.filter((s) => s.kind !== 'confirm').sort((a, b) => a.rps - b.rps);
  const tiers = [...new Set(steps.flatMap((s) => Object.keys(s.p99Ms)))] as (TierName | 'all')[];
  const rows = tiers.flatMap((t) => [
    ...steps.filter((s) => s.p99Ms[t] !== undefined).map((s) => ({ series: `${t} p99`, rps: s.rps, ms: s.p99Ms[t]! })),
    ...steps.filter((s) => s.p95Ms?.[t] !== undefined).map((s) => ({ series: `${t} p95`, rps: s.rps, ms: s.p95Ms![t]! })),
  ]);
  const names = [...new Set(rows.map((x) => x.series))];
  return chart('Sweep: latency vs offered rate', [
    {
      name: 'series',
      data: { values: rows },
      mark: { type: 'line', point: true, strokeWidth: 2 },
      encoding: {
        x: { field: 'rps', type: 'quantitative', title: 'offered calls/s' },
        y: { field: 'ms', type: 'quantitative', title: 'ms' },
        color: { field: 'series', type: 'nominal', title: 'measured', scale: { domain: names, range: PALETTE } },
      },
    },
    limitLayer(slaLimits(r, tiers, ['p95', 'p99']), 'SLA'),
  ], true);
}

/** One sample of a soak: each process's RSS and V8 heap in use, in MiB, at `t` seconds. */
export interface MemorySample {
  t: number;
  process: string;
  rssMiB: number;
  heapMiB: number;
}

/** A soak's memory over time: RSS and V8 heap in use per process, one panel each (own y axis). */
export function memoryChart(title: string, samples: MemorySample[]): TopLevelSpec {
  const processes = [...new Set(samples.map((s) => s.process))];
  const panel = (measure: string, field: 'rssMiB' | 'heapMiB'): Layer => ({
    name: field,
    title: measure,
    width: CHART_CONFIG.width,
    height: CHART_CONFIG.height / 2,
    data: { values: samples.filter((x) => Number.isFinite(x[field])).map((x) => ({ t: x.t, process: x.process, mib: x[field] })) },
    mark: { type: 'line', point: true, strokeWidth: 2 },
    encoding: {
      x: { field: 't', type: 'quantitative', title: 'seconds into the soak' },
      y: { field: 'mib', type: 'quantitative', title: 'MiB', scale: { zero: false } },
      color: { field: 'process', type: 'nominal', title: 'process', scale: { domain: processes, range: PALETTE } },
    },
  });
  return {
    $schema: SCHEMA,
    title: { text: title, offset: 16 },
    background: 'white',
    config: { font: CHART_CONFIG.font },
    vconcat: [panel('Resident memory (RSS)', 'rssMiB'), panel('V8 heap in use (main thread)', 'heapMiB')],
  } as unknown as TopLevelSpec;
}

/** One named line of a time-series chart. */
export interface TimeSeries {
  label: string;
  points: { x: number; y: number }[];
}

/** Lines over time with optional limit lines (the retention soak's memory and latency per minute). */
export function timeSeriesChart(title: string, yTitle: string, xTitle: string, series: TimeSeries[], limits: LimitLine[] = []): TopLevelSpec {
  const names = series.map((s) => s.label);
  const lines: Layer = {
    data: { values: series.flatMap((s) => s.points.map((p) => ({ series: s.label, x: p.x, y: p.y }))) },
    mark: { type: 'line', point: true, strokeWidth: 2 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xTitle },
      y: { field: 'y', type: 'quantitative', title: yTitle },
      color: { field: 'series', type: 'nominal', title: 'measured', scale: { domain: names, range: PALETTE } },
    },
  };
  return chart(title, limits.length ? [lines, limitLayer(limits, 'limit')] : [lines], limits.length > 0);
}
