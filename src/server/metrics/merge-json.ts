import * as prom from 'prom-client';
import type { MetricsJson } from '../../workers/metrics-bridge.js';

type Aggregate = (metrics: MetricsJson) => MetricsJson[number] | undefined;
// prom-client exports its aggregation functions (sum, first, average, ...) but not their types.
const aggregators = (prom as unknown as { aggregators: Record<string, Aggregate> }).aggregators;

/**
 * Sums several registries' JSON into one, the way `AggregatorRegistry.aggregate` does (by
 * metric name and label set, with each metric's `aggregator`, sum by default), but
 * synchronously: folding a departed thread or process into the retired totals must never
 * leave a moment where a scrape sees neither, or Prometheus would read a counter reset.
 */
export function mergeJson(parts: MetricsJson[]): MetricsJson {
  const nonEmpty = parts.filter((p) => p.length > 0);
  if (nonEmpty.length <= 1) return nonEmpty[0] ?? [];
  const byName = new Map<string, MetricsJson>();
  for (const part of nonEmpty) {
    for (const m of part) {
      const list = byName.get(m.name);
      if (list) list.push(m);
      else byName.set(m.name, [m]);
    }
  }
  const out: MetricsJson = [];
  for (const metrics of byName.values()) {
    const name = (metrics[0] as { aggregator?: string }).aggregator ?? 'sum';
    const fn = aggregators[name];
    if (!fn) throw new Error(`unknown metric aggregator "${name}" for ${metrics[0]!.name}`);
    const merged = fn(metrics);
    if (merged) out.push(merged);
  }
  return out;
}

/**
 * The part of a registry's JSON that must survive the thread or process that produced it:
 * tierbook's own counters and histograms. Gauges describe a moment of something that is
 * gone, and process_* / nodejs_* counters belong to one process's life.
 */
export function keepMonotonic(metrics: MetricsJson): MetricsJson {
  // At run time `type` is the exposition name ('counter'); the typings declare an enum.
  const kind = (m: MetricsJson[number]) => m.type as unknown as string;
  return metrics.filter((m) => m.name.startsWith('tierbook_') && (kind(m) === 'counter' || kind(m) === 'histogram'));
}
