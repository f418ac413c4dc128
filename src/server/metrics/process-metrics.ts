import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/**
 * A registry for what belongs to one process: prom-client's default process and Node.js
 * metrics (RSS, heap, CPU, GC, event-loop lag, handles) and the main thread's event-loop
 * utilization. Every series carries `process` ("primary", "gateway-0", ...), so the cluster
 * aggregation keeps them apart: summing two processes' RSS or lag would hide the one that leaks.
 */
export function processRegistry(processName: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ process: processName });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  let prev: EventLoopUtilization = performance.eventLoopUtilization();
  new Gauge({
    name: 'tierbook_event_loop_utilization',
    help: 'Share of time (0..1) the main thread ran JavaScript since the previous scrape.',
    registers: [registry],
    collect() {
      const now = performance.eventLoopUtilization();
      this.set(performance.eventLoopUtilization(now, prev).utilization);
      prev = now;
    },
  });
  return registry;
}
