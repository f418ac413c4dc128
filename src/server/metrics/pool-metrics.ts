import type { EventLoopUtilization } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import { Gauge, type Registry } from 'prom-client';
import type { Piscina } from 'piscina';

/**
 * Per-pool gauges of one gateway process, read from Piscina when scraped. Queue depth and
 * thread counts are summed over the cluster; utilization is averaged.
 *
 * Utilization is the event-loop utilization of the pool's threads since the previous scrape
 * (`worker.performance.eventLoopUtilization`): the share of time the threads were running
 * JavaScript rather than waiting on Redis. Piscina's own `utilization` is an average since
 * the pool started, which hides a saturation that began five minutes ago.
 */
export function registerPoolMetrics(registry: Registry, pools: Record<string, Piscina>, queueDepth?: (pool: string) => number): void {
  new Gauge({
    name: 'tierbook_pool_queue_depth',
    help: 'Calls waiting for a worker thread, per pool (beyond what the threads are running).',
    labelNames: ['pool'],
    registers: [registry],
    collect() {
      for (const [pool, p] of Object.entries(pools)) this.set({ pool }, queueDepth ? queueDepth(pool) : p.queueSize);
    },
  });
  new Gauge({
    name: 'tierbook_pool_threads',
    help: 'Worker threads alive per pool.',
    labelNames: ['pool'],
    registers: [registry],
    collect() {
      for (const [pool, p] of Object.entries(pools)) this.set({ pool }, p.threads.length);
    },
  });
  const previous = new WeakMap<Worker, EventLoopUtilization>();
  new Gauge({
    name: 'tierbook_pool_utilization',
    help: 'Event-loop utilization (0..1) of the pool threads since the previous scrape, averaged over threads and processes.',
    labelNames: ['pool'],
    registers: [registry],
    aggregator: 'average',
    collect() {
      for (const [pool, p] of Object.entries(pools)) {
        let sum = 0;
        let n = 0;
        for (const t of p.threads) {
          const now = t.performance.eventLoopUtilization();
          const prev = previous.get(t);
          sum += prev ? t.performance.eventLoopUtilization(now, prev).utilization : now.utilization;
          previous.set(t, now);
          n++;
        }
        this.set({ pool }, n ? sum / n : 0);
      }
    },
  });
}
