import type { MetricsJson } from '../../workers/metrics-bridge.js';

/**
 * Adds `tierbook_sla_compliance_ratio{tier,objective}` to merged cluster metrics: the
 * one-minute window's met calls over its calls, both already summed over the processes. A
 * tier with no calls in the window has no ratio (absent, rather than a misleading 1 or 0).
 */
export function withComplianceRatio(merged: MetricsJson): MetricsJson {
  const calls = merged.find((m) => m.name === 'tierbook_sla_window_calls');
  const met = merged.find((m) => m.name === 'tierbook_sla_window_met');
  const key = (l: Partial<Record<string, string | number>>) => `${l.tier}|${l.objective}`;
  const metBy = new Map((met?.values ?? []).map((v) => [key(v.labels), v.value]));
  const values = (calls?.values ?? [])
    .filter((v) => v.value > 0)
    .map((v) => ({ labels: { tier: v.labels.tier!, objective: v.labels.objective! }, value: (metBy.get(key(v.labels)) ?? 0) / v.value }));
  const ratio = {
    name: 'tierbook_sla_compliance_ratio',
    help: 'Share of calls in the last minute that met the objective for their tier (over the whole cluster).',
    type: 'gauge',
    aggregator: 'sum',
    values,
  } as unknown as MetricsJson[number];
  return [...merged.filter((m) => m.name !== ratio.name), ratio];
}
