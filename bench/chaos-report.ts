/**
 * One row of the chaos bench's table per fault, computed from the calls the load recorded
 * (those still running or sent after the kill): the outage is first failed call sent -> last
 * failed call ended; "OK again" is when the first call sent after the last failed one got
 * its OK, counted from the kill (every later call succeeded too); "no OK answer" is the
 * longest time without any OK answer, which also shows calls that were held, not failed.
 */
import type { CallRecord } from './chaos-load.js';
import type { LagSample } from './chaos-checks.js';

export interface FaultRow {
  fault: string;
  restartedBy: string;
  calls: number;
  failedByStatus: Record<string, number>;
  /** Seconds, or undefined when no call failed. */
  outageS?: number;
  okAgainS?: number;
  restartAttempts: number;
  /** Seconds from the kill until the part was back (listening, or the supervisor's slot ready). */
  backS: number;
  /** Longest time after the kill without an OK answer, s. */
  noOkS: number;
  /** What grpc-go (ghz, GetOrderBook) saw during the fault, by status. */
  ghz: Record<string, number>;
  /** Calls that failed before the kill (the load's own errors, e.g. an overloaded box). */
  failedBefore: number;
  missing: number;
  duplicated: number;
  positionsZero: boolean;
  /** Normal sync lag (max before the kill), ms; and when it was back under it, s after the kill. */
  normalLagMs: number;
  lagBackS?: number;
  /** Failed PlaceOrder calls retried with the same client_order_id after the fault. */
  retried: { total: number; alreadyPlaced: number; placedNow: number; failed: number };
  /** A few failure details, for the log. */
  examples: string[];
}

/** Calls per second around the kill, "ok/failed" by second sent (for the log). */
export function timeline(calls: CallRecord[], killedAt: number): string {
  const bySecond = new Map<number, [number, number]>();
  for (const c of calls) {
    const s = Math.floor((c.sentAt - killedAt) / 1000);
    const b = bySecond.get(s) ?? [0, 0];
    b[c.code === 'OK' ? 0 : 1]++;
    bySecond.set(s, b);
  }
  return [...bySecond.entries()].sort((a, b) => a[0] - b[0]).map(([s, [ok, bad]]) => `${s}s:${ok}/${bad}`).join(' ');
}

/** Failures of calls sent after the kill: the fault's (those before it are the load's own). */
export function outage(allCalls: CallRecord[], killedAt: number) {
  const calls = allCalls.filter((c) => c.endAt >= killedAt);
  const failed = calls.filter((c) => c.code !== 'OK');
  const failedByStatus: Record<string, number> = {};
  for (const c of failed) failedByStatus[c.code] = (failedByStatus[c.code] ?? 0) + 1;
  if (failed.length === 0) return { failedByStatus, examples: [] };
  const first = Math.min(...failed.map((c) => c.sentAt));
  const lastSent = Math.max(...failed.map((c) => c.sentAt));
  const lastEnd = Math.max(...failed.map((c) => c.endAt));
  const okAfter = calls.filter((c) => c.code === 'OK' && c.sentAt > lastSent).map((c) => c.endAt);
  const examples = [...new Set(failed.map((c) => `${c.method} ${c.code}: ${c.detail}`))].slice(0, 6);
  return {
    failedByStatus,
    outageS: (lastEnd - first) / 1000,
    okAgainS: okAfter.length ? (Math.min(...okAfter) - killedAt) / 1000 : undefined,
    examples,
  };
}

/** The longest time after the kill in which no call got an OK answer, s. */
export function longestWithoutOk(calls: CallRecord[], killedAt: number, endAt: number): number {
  const oks = calls.filter((c) => c.code === 'OK' && c.endAt >= killedAt).map((c) => c.endAt).sort((a, b) => a - b);
  let prev = killedAt;
  let worst = 0;
  for (const t of [...oks, endAt]) {
    worst = Math.max(worst, t - prev);
    prev = t;
  }
  return worst / 1000;
}

/** Normal lag: the worst sample before the kill (at least 100 ms: the probe polls every 20 ms). */
export function syncLag(samples: LagSample[], killedAt: number): { normalLagMs: number; lagBackS?: number } {
  const before = samples.filter((s) => s.foundAt < killedAt).map((s) => s.foundAt - s.ackAt);
  const normalLagMs = Math.max(100, ...before);
  const back = samples.find((s) => s.ackAt >= killedAt && s.foundAt - s.ackAt <= normalLagMs);
  return { normalLagMs, lagBackS: back ? (back.foundAt - killedAt) / 1000 : undefined };
}

const secs = (v?: number) => (v === undefined ? '—' : v.toFixed(2));

const counts = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${v} ${k}`).join(', ') || '0';

export function markdownTable(rows: FaultRow[]): string {
  const head = '| fault (SIGKILL) | restarted by, back after s | calls | failed before the kill | failed after, by status | outage s | OK again after s | no OK answer for s | acked orders missing in PG | duplicated rows | positions sum to 0 | sync lag normal ms / back under it after s | failed PlaceOrders retried: already placed / placed now / failed | grpc-go (ghz) GetOrderBook |';
  const sep = '| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- |';
  const lines = rows.map((r) => {
    const restarted = `${r.restartedBy}${r.restartAttempts > 1 ? ` (${r.restartAttempts} tries)` : ''}, ${r.backS.toFixed(2)}`;
    return `| ${r.fault} | ${restarted} | ${r.calls} | ${r.failedBefore} | ${counts(r.failedByStatus)} | ${secs(r.outageS)} | ${secs(r.okAgainS)} | ${r.noOkS.toFixed(2)} | ${r.missing} | ${r.duplicated} | ${r.positionsZero ? 'yes' : '**no**'} | ${r.normalLagMs} / ${secs(r.lagBackS)} | ${r.retried.total}: ${r.retried.alreadyPlaced} / ${r.retried.placedNow} / ${r.retried.failed} | ${counts(r.ghz)} |`;
  });
  return [head, sep, ...lines].join('\n');
}
