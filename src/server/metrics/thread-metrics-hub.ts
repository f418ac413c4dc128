import type { MessagePort } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import { METRICS_PORT_MESSAGE, type MetricsJson, type MetricsPortMessage } from '../../workers/metrics-bridge.js';
import { keepMonotonic, mergeJson } from './merge-json.js';

interface ThreadLink {
  pool: string;
  port: MessagePort;
  /** The last answer: used when the thread is too busy to answer in time, or has gone. */
  last: MetricsJson;
  pending: Map<number, (m: MetricsJson) => void>;
}

/**
 * The process side of the thread -> process metric transport (the thread side is
 * src/workers/metrics-bridge.ts). Each pool thread announces a MessagePort; at scrape time the
 * hub asks every port for its registry as JSON and waits up to `timeoutMs`, falling back to
 * that thread's previous answer, so one busy thread never fails a scrape.
 *
 * A thread that ends (idle timeout, crash) takes its counters with it; the hub keeps its last
 * counters and histograms in `retired`, so the process's totals never go backwards.
 */
export class ThreadMetricsHub {
  private readonly links = new Set<ThreadLink>();
  private retired: MetricsJson = [];
  private nextId = 0;

  constructor(private readonly timeoutMs = 1_000) {}

  /** Listens for the ports of a pool's threads (Piscina re-emits their parentPort messages). */
  attach(pool: Piscina): void {
    pool.on('message', (msg: unknown) => {
      const m = msg as Partial<MetricsPortMessage>;
      if (m?.type !== METRICS_PORT_MESSAGE || !m.port) return;
      const link: ThreadLink = { pool: m.pool ?? '?', port: m.port, last: [], pending: new Map() };
      m.port.on('message', (res: { id: number; metrics: MetricsJson }) => {
        link.last = res.metrics;
        link.pending.get(res.id)?.(res.metrics);
        link.pending.delete(res.id);
      });
      m.port.on('close', () => this.retire(link));
      m.port.unref();
      this.links.add(link);
    });
  }

  /** Number of threads currently reporting. */
  get threads(): number {
    return this.links.size;
  }

  /** Every thread's metrics (fresh where the thread answered in time) plus the retired ones. */
  async collect(): Promise<MetricsJson[]> {
    const answers = await Promise.all([...this.links].map((l) => this.ask(l)));
    return this.retired.length ? [...answers, this.retired] : answers;
  }

  private ask(link: ThreadLink): Promise<MetricsJson> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        link.pending.delete(id);
        resolve(link.last);
      }, this.timeoutMs);
      link.pending.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      try {
        link.port.postMessage({ id });
      } catch {
        clearTimeout(timer);
        resolve(link.last);
      }
    });
  }

  private retire(link: ThreadLink): void {
    if (!this.links.delete(link)) return;
    // Folded into `retired` in the same tick: a collect sees the counts once, never zero times.
    this.retired = mergeJson([this.retired, keepMonotonic(link.last)]);
    for (const done of link.pending.values()) done([]);
  }
}
