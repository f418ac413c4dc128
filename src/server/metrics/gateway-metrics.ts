import cluster from 'node:cluster';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Piscina } from 'piscina';
import { Registry } from 'prom-client';
import { instrumentRedis, redisHistogram, type MetricsJson } from '../../workers/metrics-bridge.js';
import { callLogger, type CallRecord } from './call-log.js';
import type { CallTracer } from './call-tracer.js';
import { METRICS_FINAL, METRICS_REQUEST, METRICS_RESPONSE, type MetricsRequest } from './cluster-protocol.js';
import { registerPoolMetrics } from './pool-metrics.js';
import { processRegistry } from './process-metrics.js';
import { RpcMetrics } from './rpc-metrics.js';
import { ThreadMetricsHub } from './thread-metrics-hub.js';

/**
 * Everything one gateway process measures: its calls (and their log lines), its pools, its
 * own Redis client, its process and event loop, and, through the hub, its worker threads.
 * `snapshot()` is the process's share of /metrics; the primary asks for it over cluster IPC
 * (`serveCluster`), and a draining process sends a last one before it exits (`sendFinal`).
 */
export class GatewayMetrics {
  /** Series summed over the cluster: no per-process label. */
  readonly registry = new Registry();
  readonly processRegistry: Registry;
  private readonly rpc = new RpcMetrics(this.registry);
  private readonly redisSeconds = redisHistogram(this.registry);
  private readonly hub = new ThreadMetricsHub();
  private readonly log: (c: CallRecord) => void;
  /** Set only when tracing is on (TIERBOOK_OTEL_EXPORTER): off costs this one check per call. */
  tracer?: CallTracer;

  constructor(opts: { processName: string; logger: Logger; callLogSample: number }) {
    this.processRegistry = processRegistry(opts.processName);
    this.log = callLogger(opts.logger, opts.callLogSample);
  }

  /** The UnaryDeps.onDone hook: metrics and the log line of one call. */
  readonly onDone = (c: CallRecord): void => {
    this.rpc.observe({ method: c.method, tier: c.principal?.tier, code: c.code, seconds: c.seconds, stages: c.stages });
    this.log(c);
    this.tracer?.record(c);
  };

  /** Gauges of the pools, and the metric ports of their threads. */
  watchPools(pools: Partial<Record<string, Piscina>>, queueDepth?: (pool: string) => number): void {
    // Only the pools this process runs (a premium-only gateway has no shared pool).
    const running = Object.fromEntries(Object.entries(pools).filter((e): e is [string, Piscina] => e[1] !== undefined));
    registerPoolMetrics(this.registry, running, queueDepth);
    for (const p of Object.values(running)) this.hub.attach(p);
  }

  /** Times the gateway's own Redis commands (auth lookups) as pool "gateway". */
  watchRedis(redis: Redis): void {
    instrumentRedis(redis, this.redisSeconds, 'gateway');
  }

  /** This process's metrics and its threads', as separate JSON parts (merged by the caller). */
  async snapshot(): Promise<MetricsJson[]> {
    const [own, proc, threads] = await Promise.all([
      this.registry.getMetricsAsJSON() as Promise<MetricsJson>,
      this.processRegistry.getMetricsAsJSON() as Promise<MetricsJson>,
      this.hub.collect(),
    ]);
    return [own, proc, ...threads];
  }

  /** Answers the primary's metric requests over cluster IPC; returns the detach function. */
  serveCluster(): () => void {
    // Only a cluster worker has a primary to answer (a test's in-process gateway has none).
    if (!cluster.isWorker) return () => {};
    const onMessage = (msg: unknown) => {
      const m = msg as Partial<MetricsRequest>;
      if (m?.type !== METRICS_REQUEST || typeof m.id !== 'number') return;
      void this.snapshot().then((parts) => process.send?.({ type: METRICS_RESPONSE, id: m.id, parts }));
    };
    process.on('message', onMessage);
    return () => process.off('message', onMessage);
  }

  /**
   * Sends the final counters to the primary (after draining, before the pools close), so a
   * rolling restart loses no count. Resolves once the message is handed to the IPC channel.
   */
  async sendFinal(): Promise<void> {
    if (!cluster.isWorker || !process.send || !process.connected) return;
    const parts = await this.snapshot();
    await new Promise<void>((resolve) => process.send!({ type: METRICS_FINAL, parts }, undefined, {}, () => resolve()));
  }
}
