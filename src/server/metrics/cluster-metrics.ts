import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { MetricsJson } from '../../workers/metrics-bridge.js';
import { METRICS_FINAL, METRICS_REQUEST, METRICS_RESPONSE, type MetricsFinal, type MetricsResponse } from './cluster-protocol.js';
import { keepMonotonic, mergeJson } from './merge-json.js';
import { withComplianceRatio } from './sla-ratio.js';

/**
 * The primary's /metrics: its own registries plus every gateway process's snapshot (which
 * already holds that process's worker threads), merged with `AggregatorRegistry.aggregate`.
 *
 * Counters stay monotonic across process restarts: the last counters and histograms a
 * process reported (its final snapshot when it drains, else the last scrape before it died)
 * are kept in `retired` and added to every later scrape. A process killed with SIGKILL loses
 * only the calls it finished after the previous scrape.
 */
export class ClusterMetrics {
  private readonly last = new Map<number, { parts: MetricsJson[]; final: boolean }>();
  private retired: MetricsJson = [];
  private readonly waiting = new Map<number, Map<number, (parts: MetricsJson[]) => void>>();
  private nextId = 0;

  constructor(
    private readonly own: Registry[],
    private readonly timeoutMs = 2_000,
  ) {
    cluster.on('message', this.onMessage);
    cluster.on('exit', this.onExit);
  }

  readonly contentType = AggregatorRegistry.PROMETHEUS_CONTENT_TYPE;

  /** The cluster's metrics in Prometheus text format. */
  async metrics(): Promise<string> {
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.isConnected());
    const [ownParts, ...perWorker] = await Promise.all([
      Promise.all(this.own.map((r) => r.getMetricsAsJSON() as Promise<MetricsJson>)),
      ...workers.map((w) => this.ask(w)),
    ]);
    const merged = mergeJson([...ownParts, ...perWorker.flat(), this.retired]);
    return AggregatorRegistry.aggregate([withComplianceRatio(merged)]).metrics();
  }

  /** Stops listening (the primary is exiting). */
  close(): void {
    cluster.off('message', this.onMessage);
    cluster.off('exit', this.onExit);
  }

  private ask(worker: Worker): Promise<MetricsJson[]> {
    const id = this.nextId++;
    const fallback = () => this.last.get(worker.id)?.parts ?? [];
    return new Promise((resolve) => {
      const pending = this.waiting.get(worker.id) ?? new Map<number, (parts: MetricsJson[]) => void>();
      this.waiting.set(worker.id, pending);
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(fallback());
      }, this.timeoutMs);
      pending.set(id, (parts) => {
        clearTimeout(timer);
        resolve(parts);
      });
      try {
        worker.send({ type: METRICS_REQUEST, id });
      } catch {
        pending.delete(id);
        clearTimeout(timer);
        resolve(fallback());
      }
    });
  }

  private readonly onMessage = (worker: Worker, msg: unknown): void => {
    const m = msg as Partial<MetricsResponse | MetricsFinal>;
    if (m?.type === METRICS_RESPONSE && Array.isArray(m.parts)) {
      const res = m as MetricsResponse;
      if (!this.last.get(worker.id)?.final) this.last.set(worker.id, { parts: res.parts, final: false });
      this.waiting.get(worker.id)?.get(res.id)?.(res.parts);
      this.waiting.get(worker.id)?.delete(res.id);
    } else if (m?.type === METRICS_FINAL && Array.isArray(m.parts)) {
      this.last.set(worker.id, { parts: m.parts, final: true });
    }
  };

  private readonly onExit = (worker: Worker): void => {
    const last = this.last.get(worker.id);
    this.last.delete(worker.id);
    // Folded into `retired` in the same tick, so no scrape counts the process twice or not at all.
    if (last) this.retired = mergeJson([this.retired, ...last.parts.map(keepMonotonic)]);
    for (const done of this.waiting.get(worker.id)?.values() ?? []) done([]);
    this.waiting.delete(worker.id);
  };
}
