/**
 * Where the time went during a measurement: the gateway's per-stage histograms
 * (`tierbook_call_stage_seconds{tier, stage}`, src/server/metrics/call-stages.ts) scraped from
 * the stack's /metrics before and after, and the difference turned into p50 / p99 per tier
 * and stage. Quantiles come from histogram buckets (interpolated within a bucket, as
 * Prometheus' histogram_quantile does), so they are as fine as the buckets.
 */

export interface StageRow {
  tier: string;
  stage: string;
  calls: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

type Buckets = Map<string, { le: number[]; counts: number[]; sum: number; count: number }>;

const LINE = /^tierbook_call_stage_seconds_(bucket|sum|count)\{([^}]*)\}\s+(\S+)/;

/** The stage histograms of one scrape, keyed "tier|stage". */
export function parseStages(text: string): Buckets {
  const out: Buckets = new Map();
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    const key = `${labels.tier}|${labels.stage}`;
    const h = out.get(key) ?? { le: [], counts: [], sum: 0, count: 0 };
    const v = Number(m[3]);
    if (m[1] === 'bucket') {
      h.le.push(labels.le === '+Inf' ? Infinity : Number(labels.le));
      h.counts.push(v);
    } else if (m[1] === 'sum') h.sum = v;
    else h.count = v;
    out.set(key, h);
  }
  return out;
}

function quantile(le: number[], cumulative: number[], q: number): number {
  const total = cumulative.at(-1) ?? 0;
  if (total === 0) return 0;
  const rank = q * total;
  for (let i = 0; i < le.length; i++) {
    if (cumulative[i]! >= rank) {
      const lo = i === 0 ? 0 : le[i - 1]!;
      const hi = Number.isFinite(le[i]!) ? le[i]! : lo;
      const below = i === 0 ? 0 : cumulative[i - 1]!;
      const inBucket = cumulative[i]! - below;
      return inBucket > 0 ? lo + ((hi - lo) * (rank - below)) / inBucket : hi;
    }
  }
  return le.at(-2) ?? 0;
}

/** p50 / p99 / mean per tier and stage of the calls between two scrapes. */
export function stageRows(before: string, after: string): StageRow[] {
  const a = parseStages(after);
  const b = parseStages(before);
  const rows: StageRow[] = [];
  for (const [key, h] of a) {
    const prev = b.get(key);
    const counts = h.counts.map((c, i) => c - (prev?.counts[i] ?? 0));
    const calls = h.count - (prev?.count ?? 0);
    if (calls <= 0) continue;
    const [tier, stage] = key.split('|') as [string, string];
    rows.push({
      tier, stage, calls,
      p50Ms: quantile(h.le, counts, 0.5) * 1000,
      p99Ms: quantile(h.le, counts, 0.99) * 1000,
      meanMs: ((h.sum - (prev?.sum ?? 0)) / calls) * 1000,
    });
  }
  const order = ['admission', 'pool_wait', 'decode_logic_encode', 'redis', 'reply', 'total'];
  return rows.sort((x, y) => (x.tier === y.tier ? order.indexOf(x.stage) - order.indexOf(y.stage) : x.tier < y.tier ? -1 : 1));
}

/** The stack's /metrics text, or '' when it cannot be read (the table is then left out). */
export async function scrape(url: string | undefined): Promise<string> {
  if (!url) return '';
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    return res.ok ? await res.text() : '';
  } catch {
    return '';
  }
}

/** The report's markdown table. */
export function stageTable(rows: StageRow[]): string[] {
  if (rows.length === 0) return [];
  const f = (v: number) => (v >= 10 ? v.toFixed(1) : v.toFixed(3));
  return [
    '## Where the time went (per stage, from the gateways\' /metrics)', '',
    'Stages of each call in the gateway and its worker thread (`tierbook_call_stage_seconds`): admission (auth, rate limit), pool wait (hand-off to a thread), decode/logic/encode on the thread, Redis (the call\'s commands, send to reply), reply (back to grpc-js). Bucketed, so quantiles are interpolated within a bucket.', '',
    '| tier | stage | calls | p50 ms | p99 ms | mean ms |', '| --- | --- | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.tier} | ${r.stage} | ${r.calls} | ${f(r.p50Ms)} | ${f(r.p99Ms)} | ${f(r.meanMs)} |`),
    '',
  ];
}
