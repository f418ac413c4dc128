/**
 * Reads what `ghz --format json` writes and turns it into the figures the report needs.
 * ghz keeps every call in `details` (up to 1,000,000), so percentiles and per-second series are
 * computed here from the raw calls, the same way for every stream and for the baseline; ghz's
 * own `latencyDistribution` is kept for cross-checking (the tests assert both agree).
 */

/** One call as ghz records it: end time, latency in nanoseconds, gRPC status name. */
export interface GhzDetail {
  timestamp: string;
  latency: number;
  error: string;
  status: string;
}

/** The part of ghz's JSON report we read. Durations are nanoseconds. */
export interface GhzReport {
  date: string;
  endReason?: string;
  count: number;
  total: number;
  rps: number;
  statusCodeDistribution: Record<string, number>;
  errorDistribution: Record<string, number>;
  latencyDistribution: { percentage: number; latency: number }[] | null;
  details: GhzDetail[] | null;
  options: { call?: string; host?: string; rps?: number; connections?: number; concurrency?: number };
}

/** Latency percentiles in milliseconds. */
export interface Percentiles {
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

/** Calls that ended in one second of the run, counted from the run's first call. */
export interface SecondSlice {
  second: number;
  ok: number;
  errors: number;
  p99Ms: number;
}

/** A stream's result: one ghz process, one call, one tier. */
export interface StreamResult {
  call: string;
  count: number;
  ok: number;
  errors: number;
  /** Calls per second over ghz's whole run, errors included (ghz's `rps`). */
  callsPerSec: number;
  /** OK calls per second. */
  okPerSec: number;
  durationSec: number;
  statuses: Record<string, number>;
  /** Percentiles of OK calls only, as ghz does: a fast refusal must not look like speed. */
  latencyMs: Percentiles;
  series: SecondSlice[];
  /** ghz's own percentiles (ms), keyed "p50" etc., for cross-checks. */
  ghzLatencyMs: Record<string, number>;
}

const NS_PER_MS = 1e6;

/**
 * The p-th percentile of ascending `sorted`, by nearest rank: the smallest value with at least
 * p% of values at or below it. ghz uses the same rule, so the two agree exactly.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const rank = Math.ceil((p / 100) * n);
  return sorted[Math.min(n, Math.max(1, rank)) - 1]!;
}

/** Percentiles (ms) of latencies given in nanoseconds. */
export function percentilesMs(latenciesNs: number[]): Percentiles {
  const sorted = Float64Array.from(latenciesNs).sort();
  const at = (p: number) => percentile(sorted, p) / NS_PER_MS;
  return {
    p50: at(50),
    p90: at(90),
    p95: at(95),
    p99: at(99),
    p999: at(99.9),
    max: sorted.length ? sorted[sorted.length - 1]! / NS_PER_MS : 0,
  };
}

/** Parses ghz's JSON text; throws with a readable message when it is not a ghz report. */
export function parseGhzJson(text: string): GhzReport {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`ghz output is not JSON (${(e as Error).message}); was --format json set?`);
  }
  const r = raw as Partial<GhzReport>;
  if (typeof r !== 'object' || r === null || typeof r.count !== 'number' || typeof r.total !== 'number') {
    throw new Error('ghz output lacks "count"/"total": not a ghz --format json report');
  }
  return {
    date: r.date ?? '',
    endReason: r.endReason,
    count: r.count,
    total: r.total,
    rps: r.rps ?? 0,
    statusCodeDistribution: r.statusCodeDistribution ?? {},
    errorDistribution: r.errorDistribution ?? {},
    latencyDistribution: r.latencyDistribution ?? null,
    details: r.details ?? null,
    options: r.options ?? {},
  };
}

/** Summarises one ghz report into a StreamResult. */
export function summarise(report: GhzReport): StreamResult {
  const details = report.details ?? [];
  const okLatencies: number[] = [];
  let ok = 0;
  let t0 = Infinity;
  const ends = new Float64Array(details.length);
  details.forEach((d, i) => {
    // Nanosecond timestamps lose precision in Date; a millisecond is plenty for 1 s slices.
    const t = Date.parse(d.timestamp);
    ends[i] = t;
    if (t < t0) t0 = t;
    if (d.status === 'OK' && d.error === '') {
      ok++;
      okLatencies.push(d.latency);
    }
  });

  const buckets = new Map<number, { ok: number; errors: number; lat: number[] }>();
  details.forEach((d, i) => {
    const s = Math.floor((ends[i]! - t0) / 1000);
    let b = buckets.get(s);
    if (!b) buckets.set(s, (b = { ok: 0, errors: 0, lat: [] }));
    if (d.status === 'OK' && d.error === '') {
      b.ok++;
      b.lat.push(d.latency);
    } else b.errors++;
  });
  const lastSecond = buckets.size ? Math.max(...buckets.keys()) : -1;
  const series: SecondSlice[] = [];
  for (let s = 0; s <= lastSecond; s++) {
    const b = buckets.get(s) ?? { ok: 0, errors: 0, lat: [] };
    series.push({ second: s, ok: b.ok, errors: b.errors, p99Ms: percentilesMs(b.lat).p99 });
  }

  const durationSec = report.total / 1e9;
  const ghzLatencyMs: Record<string, number> = {};
  for (const l of report.latencyDistribution ?? []) ghzLatencyMs[`p${l.percentage}`] = l.latency / NS_PER_MS;
  return {
    call: report.options.call ?? '',
    count: report.count,
    ok,
    errors: report.count - ok,
    callsPerSec: report.rps,
    okPerSec: durationSec > 0 ? ok / durationSec : 0,
    durationSec,
    statuses: { ...report.statusCodeDistribution },
    latencyMs: percentilesMs(okLatencies),
    series,
    ghzLatencyMs,
  };
}

/** Merges several streams of one tier into one result (counts add, percentiles re-computed). */
export function mergeStreams(reports: GhzReport[]): StreamResult {
  if (reports.length === 1) return summarise(reports[0]!);
  const details = reports.flatMap((r) => r.details ?? []);
  const statuses: Record<string, number> = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.statusCodeDistribution)) statuses[k] = (statuses[k] ?? 0) + v;
  const total = Math.max(...reports.map((r) => r.total));
  const count = reports.reduce((a, r) => a + r.count, 0);
  const merged = summarise({
    date: reports[0]?.date ?? '',
    count,
    total,
    rps: total > 0 ? count / (total / 1e9) : 0,
    statusCodeDistribution: statuses,
    errorDistribution: {},
    latencyDistribution: null,
    details,
    options: { call: [...new Set(reports.map((r) => r.options.call ?? ''))].join(', ') },
  });
  return merged;
}
