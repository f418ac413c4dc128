/**
 * Calls and kept promises over the last minute, per series key, in one-second slots.
 *
 * A compliance *ratio* cannot be summed across processes, but its numerator and denominator
 * can: each gateway process exports the window's two counts as gauges (summed by the
 * cluster aggregation), and the primary divides the sums (see cluster-metrics.ts). The
 * result is the cluster-wide share of calls within the SLA over the last minute, readable
 * without PromQL; dashboards can still use rate() over the cumulative counters instead.
 */
export class SlaWindow {
  private readonly slots: Map<string, { calls: number; met: number }>[];
  private slotSecond: number[];

  constructor(
    private readonly seconds = 60,
    private readonly now: () => number = Date.now,
  ) {
    this.slots = Array.from({ length: seconds }, () => new Map());
    this.slotSecond = new Array<number>(seconds).fill(-1);
  }

  /** Counts one call for `key`; `met` says whether it kept the promise. */
  add(key: string, met: boolean): void {
    const sec = Math.floor(this.now() / 1000);
    const i = sec % this.seconds;
    if (this.slotSecond[i] !== sec) {
      this.slots[i]!.clear();
      this.slotSecond[i] = sec;
    }
    const slot = this.slots[i]!;
    const c = slot.get(key) ?? { calls: 0, met: 0 };
    c.calls++;
    if (met) c.met++;
    slot.set(key, c);
  }

  /** Totals per key over the window (slots older than the window are ignored). */
  totals(): Map<string, { calls: number; met: number }> {
    const oldest = Math.floor(this.now() / 1000) - this.seconds + 1;
    const out = new Map<string, { calls: number; met: number }>();
    this.slots.forEach((slot, i) => {
      if (this.slotSecond[i]! < oldest) return;
      for (const [k, v] of slot) {
        const t = out.get(k) ?? { calls: 0, met: 0 };
        t.calls += v.calls;
        t.met += v.met;
        out.set(k, t);
      }
    });
    return out;
  }
}
