import { Counter, Gauge, type Registry } from 'prom-client';
import type { SyncStats } from '../../sync/index.js';

/** Counters of SyncStats exported as Prometheus counters (the thread's totals since it started). */
const COUNTERS: [keyof SyncStats, string, string][] = [
  ['committed', 'tierbook_sync_events_committed_total', 'Stream entries written to Postgres and acknowledged (rate() = rows/s).'],
  ['batches', 'tierbook_sync_batches_total', 'Postgres transactions committed by the sync.'],
  ['deadLettered', 'tierbook_sync_dead_lettered_total', 'Entries moved to a dead-letter stream after repeated failures.'],
  ['reclaimed', 'tierbook_sync_reclaimed_total', 'Pending entries taken over from dead consumers.'],
  ['retries', 'tierbook_sync_retries_total', 'Failed attempts to reach Postgres or Redis (each followed by a back-off).'],
  ['ordersRetired', 'tierbook_orders_retired_total', 'Finished orders removed from Redis after their retention window (Postgres answers for them).'],
];

/**
 * The sync thread's figures (src/sync/sync-stats.ts, posted by the thread every second) in
 * the primary's registry, read at scrape time. Totals from the thread become counters (a
 * restarted thread starting again from zero counts as a reset, as Prometheus expects);
 * `pending` is read when the sync reports it. rows/s is `rate(tierbook_sync_events_committed_total)`;
 * the `tierbook_sync_rows_per_second` gauge is the same between the last two scrapes.
 */
export function registerSyncMetrics(registry: Registry, stats: () => SyncStats | undefined): void {
  const seen = new Map<string, number>();
  let rate = { at: Date.now(), committed: 0, perSecond: 0 };
  const gauge = (name: string, help: string, read: (s: SyncStats) => number | undefined, labels: string[] = []) =>
    new Gauge({ name, help, labelNames: labels, registers: [registry], collect() {
      const s = stats();
      const v = s ? read(s) : undefined;
      if (v !== undefined) this.set(v);
    } });

  new Gauge({
    name: 'tierbook_sync_up', help: '1 while this host\'s sync thread runs and reports.', registers: [registry],
    collect() {
      const s = stats();
      this.set(s ? 1 : 0);
      if (!s) return;
      // Counters advance by what the thread added since the previous scrape.
      for (const { field, c } of counters) {
        const now = Number(s[field]);
        const before = seen.get(field) ?? 0;
        c.inc(now >= before ? now - before : now);
        seen.set(field, now);
      }
      const at = Date.now();
      if (at - rate.at >= 1000) rate = { at, committed: s.committed, perSecond: ((s.committed - rate.committed) * 1000) / (at - rate.at) };
    },
  });
  // Registered after tierbook_sync_up, whose collect (run first) advances them.
  const counters = COUNTERS.map(([field, name, help]) => ({ field, c: new Counter({ name, help, registers: [registry] }) }));
  gauge('tierbook_sync_rows_per_second', 'Entries committed per second between the last two scrapes.', () => Math.max(0, rate.perSecond));
  gauge('tierbook_sync_batch_target', 'Target batch size (entries per Postgres transaction) right now.', (s) => s.batchTarget);
  gauge('tierbook_sync_lag_p50_seconds', 'Median append -> commit lag over the last window.', (s) => s.lagP50Ms / 1000);
  gauge('tierbook_sync_lag_p99_seconds', '99th percentile append -> commit lag over the last window.', (s) => s.lagP99Ms / 1000);
  gauge('tierbook_sync_max_stream_length', 'Longest book event stream at the last trim pass.', (s) => s.maxStreamLength);
  gauge('tierbook_sync_pending', 'Entries delivered to this consumer and not yet acknowledged.', (s) => (s as { pending?: number }).pending);
}
