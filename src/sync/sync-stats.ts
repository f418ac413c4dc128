/**
 * Counters of the sync thread, sent to the owning thread as plain data (a worker's metrics
 * registry is its own, so the gateway's /metrics exports what it receives here).
 */
export interface SyncStats {
  /** Stream entries written and acknowledged. */
  committed: number;
  batches: number;
  /** Entries moved to a dead-letter stream. */
  deadLettered: number;
  /** Entries taken over from dead consumers. */
  reclaimed: number;
  /** Failed attempts to reach Postgres or Redis (each followed by a back-off). */
  retries: number;
  /** Target batch size right now. */
  batchTarget: number;
  /** Append -> commit lag of the last window, ms. */
  lagP50Ms: number;
  lagP99Ms: number;
  /** Longest event stream at the last trim pass. */
  maxStreamLength: number;
  /** Entries delivered to the group (any host) and not yet acknowledged, at the last trim pass. */
  pending: number;
  /** Finished orders removed from Redis after their retention window (docs/retention.md). */
  ordersRetired: number;
}

/** Keeps a bounded window of lag samples and answers percentiles over it. */
export class LagWindow {
  private samples: number[] = [];
  constructor(private readonly limit = 50_000) {}

  add(ms: number): void {
    if (this.samples.length >= this.limit) this.samples.splice(0, this.samples.length >> 1);
    this.samples.push(ms);
  }

  /** Percentile (0..100) of the window, and empties it when `reset`. */
  percentiles(ps: number[], reset = true): number[] {
    const s = [...this.samples].sort((a, b) => a - b);
    if (reset) this.samples = [];
    return ps.map((p) => (s.length ? (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number) : 0));
  }
}

export function emptyStats(): SyncStats {
  return { committed: 0, batches: 0, deadLettered: 0, reclaimed: 0, retries: 0, batchTarget: 0, lagP50Ms: 0, lagP99Ms: 0, maxStreamLength: 0, pending: 0, ordersRetired: 0 };
}
