import type { StreamResult } from './ghz-result.js';

/**
 * Service-level objectives and their verdicts. Two sets sit side by side: the seed reports'
 * promises (p95) and our own stricter targets (p99), which are meant to hold at half of the
 * maximum sustainable load, so the report says at which rate each verdict was measured.
 */

export type TierName = 'premium' | 'shared';
export type Pct = 'p50' | 'p90' | 'p95' | 'p99' | 'p999';

export interface SlaRule {
  /** A short label for tables and chart lines. */
  name: string;
  tier: TierName;
  percentile: Pct;
  /** The latency bound in milliseconds. */
  maxMs: number;
  /** Strict (<) or inclusive (<=), as the requirement was worded. */
  inclusive: boolean;
  /** Highest share of calls that may fail (non-OK); 0.001 = 0.1 %. */
  maxErrorRate: number;
  /**
   * 'always': must hold at any rate we call sustainable (the sweep's pass mark).
   * 'half-max': a target for half of the maximum sustainable rate (judged there, and in
   * every plain run, where the report shows the offered rate next to it).
   */
  when: 'always' | 'half-max';
}

export const DEFAULT_SLAS: readonly SlaRule[] = Object.freeze([
  { name: 'seed: premium p95 < 50 ms', tier: 'premium', percentile: 'p95', maxMs: 50, inclusive: false, maxErrorRate: 0.001, when: 'always' },
  { name: 'seed: shared p95 < 100 ms', tier: 'shared', percentile: 'p95', maxMs: 100, inclusive: false, maxErrorRate: 0.001, when: 'always' },
  { name: 'target: premium p99 <= 5 ms', tier: 'premium', percentile: 'p99', maxMs: 5, inclusive: true, maxErrorRate: 0.001, when: 'half-max' },
  { name: 'target: shared p99 <= 10 ms', tier: 'shared', percentile: 'p99', maxMs: 10, inclusive: true, maxErrorRate: 0.001, when: 'half-max' },
]);

export interface SlaVerdict {
  rule: SlaRule;
  measuredMs: number;
  errorRate: number;
  pass: boolean;
  /** Why it failed, in words; empty when it passed. */
  why: string;
}

/** Share of calls that failed. Business refusals are errors too: the SLA is about answers. */
export function errorRate(r: StreamResult): number {
  return r.count === 0 ? 1 : r.errors / r.count;
}

/** Judges each rule whose tier was measured; rules for absent tiers are skipped. */
export function judge(rules: readonly SlaRule[], tiers: Partial<Record<TierName, StreamResult>>): SlaVerdict[] {
  const out: SlaVerdict[] = [];
  for (const rule of rules) {
    const r = tiers[rule.tier];
    if (!r) continue;
    const measuredMs = r.latencyMs[rule.percentile];
    const er = errorRate(r);
    const latencyOk = rule.inclusive ? measuredMs <= rule.maxMs : measuredMs < rule.maxMs;
    const errorsOk = er <= rule.maxErrorRate;
    const why = [
      latencyOk ? '' : `${rule.percentile} ${measuredMs.toFixed(2)} ms ${rule.inclusive ? '>' : '>='} ${rule.maxMs} ms`,
      errorsOk ? '' : `error rate ${(er * 100).toFixed(2)} % > ${(rule.maxErrorRate * 100).toFixed(2)} %`,
      r.count === 0 ? 'no calls completed' : '',
    ].filter(Boolean).join('; ');
    out.push({ rule, measuredMs, errorRate: er, pass: latencyOk && errorsOk && r.count > 0, why });
  }
  return out;
}

/**
 * Reads SLA overrides: a JSON file holding an array of SlaRule (see README), or nothing for
 * the defaults. Every field is checked so a typo fails loudly instead of passing everything.
 */
export function parseSlaRules(json: string): SlaRule[] {
  const raw: unknown = JSON.parse(json);
  if (!Array.isArray(raw) || raw.length === 0) throw new Error('SLA file must be a non-empty JSON array of rules');
  return raw.map((x: Partial<SlaRule>, i) => {
    const where = `SLA rule ${i}`;
    if (typeof x.name !== 'string') throw new Error(`${where}: "name" must be a string`);
    if (x.tier !== 'premium' && x.tier !== 'shared') throw new Error(`${where}: "tier" must be premium or shared`);
    if (!['p50', 'p90', 'p95', 'p99', 'p999'].includes(String(x.percentile))) throw new Error(`${where}: "percentile" must be p50, p90, p95, p99 or p999`);
    if (typeof x.maxMs !== 'number' || !(x.maxMs > 0)) throw new Error(`${where}: "maxMs" must be a positive number`);
    return {
      name: x.name,
      tier: x.tier,
      percentile: x.percentile as Pct,
      maxMs: x.maxMs,
      inclusive: x.inclusive ?? true,
      maxErrorRate: typeof x.maxErrorRate === 'number' ? x.maxErrorRate : 0.001,
      when: x.when === 'half-max' ? 'half-max' : 'always',
    };
  });
}
