import { MessageChannel, parentPort, threadId, type MessagePort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { fromBinary } from '@bufbuild/protobuf';
import type { Redis } from 'ioredis';
import { Counter, Histogram, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import {
  AmendOrderResponseSchema, CancelOrderResponseSchema, PlaceOrderResponseSchema, PlaceOrdersResponseSchema,
} from '../gen/tierbook/v1/order_service_pb.js';
import { OrderStatus, type Order } from '../gen/tierbook/v1/types_pb.js';
import type { CallTask } from './task.js';
import { currentTiming } from './call-timing.js';

/**
 * Metrics of a Piscina worker thread, and their way to the process.
 *
 * prom-client aggregates cluster *processes* (over IPC) but knows nothing of worker threads:
 * each thread has its own module instances, so its own registry. Each thread therefore keeps
 * its metrics in a private Registry and, when it first runs a call, posts one end of a
 * MessageChannel to the process (`parentPort.postMessage`, which Piscina re-emits as the
 * pool's 'message' event). The process pulls `getMetricsAsJSON()` through that port at scrape
 * time (src/server/metrics/thread-metrics-hub.ts) and merges it with
 * `AggregatorRegistry.aggregate`. Pull rather than push: a scrape sees every call the threads
 * finished before it, and idle threads cost nothing.
 */

/** The message a thread posts once, carrying its metrics port. */
export interface MetricsPortMessage {
  type: 'tierbook:metrics-port';
  pool: string;
  threadId: number;
  port: MessagePort;
}
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];
export const METRICS_PORT_MESSAGE = 'tierbook:metrics-port';

/** Redis reply latency buckets, seconds: loopback Redis answers in ~0.1-1 ms. */
export const REDIS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5];
const WAIT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** The metrics a thread's handlers may record (WorkerContext.metrics). */
export interface ThreadMetrics {
  readonly registry: Registry;
  /** A cache lookup (analytics): counts towards `tierbook_cache_requests_total`. */
  cacheLookup(cache: string, tier: string, hit: boolean): void;
  /** Times every command of `redis` into `tierbook_redis_command_duration_seconds`. */
  instrumentRedis(redis: Redis): void;
  /**
   * Call as a task starts (records its queue wait); call the returned function as it ends
   * (records its run time and, for order mutations, the resulting order status).
   */
  beginTask(task: CallTask): (ok: boolean, payload?: Uint8Array) => void;
}

/** Creates the thread's registry and hands its port to the process. Call once per thread. */
export function startThreadMetrics(pool: string): ThreadMetrics {
  const registry = new Registry();
  const redisSeconds = redisHistogram(registry);
  const wait = new Histogram({
    name: 'tierbook_pool_wait_seconds', help: 'Time a call waited for a worker thread of its pool.',
    labelNames: ['pool'], buckets: WAIT_BUCKETS, registers: [registry],
  });
  const run = new Histogram({
    name: 'tierbook_worker_task_seconds', help: 'Time a call spent in its worker thread (decode, logic, Redis, encode).',
    labelNames: ['pool', 'method', 'result'], buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers: [registry],
  });
  const orders = new Counter({
    name: 'tierbook_orders_total', help: 'Orders by the status they had after a place, amend or cancel call.',
    labelNames: ['tier', 'action', 'status'], registers: [registry],
  });
  const cache = new Counter({
    name: 'tierbook_cache_requests_total', help: 'Analytics cache lookups by cache, tier and result (hit or miss).',
    labelNames: ['cache', 'tier', 'result'], registers: [registry],
  });

  const { port1, port2 } = new MessageChannel();
  port1.on('message', (req: { id: number }) => {
    void registry.getMetricsAsJSON().then((metrics) => port1.postMessage({ id: req.id, metrics }));
  });
  port1.unref();
  const hello: MetricsPortMessage = { type: METRICS_PORT_MESSAGE, pool, threadId, port: port2 };
  parentPort?.postMessage(hello, [port2]);

  return {
    registry,
    cacheLookup: (name, tier, hit) => cache.inc({ cache: name, tier, result: hit ? 'hit' : 'miss' }),
    instrumentRedis: (redis) => instrumentRedis(redis, redisSeconds, pool),
    beginTask(task) {
      const started = performance.now();
      // queuedAt is epoch ms stamped by TierPools.run; timeOrigin + now() is on the same clock.
      const queuedAt = task.queuedAt;
      if (queuedAt) wait.observe({ pool }, Math.max(0, (performance.timeOrigin + started - queuedAt) / 1000));
      return (ok, payload) => {
        const method = task.method.slice(task.method.lastIndexOf('/') + 1);
        run.observe({ pool, method, result: ok ? 'ok' : 'error' }, (performance.now() - started) / 1000);
        if (ok && payload) for (const [action, status] of orderStatuses(method, payload)) orders.inc({ tier: task.tier, action, status });
      };
    },
  };
}

/** The Redis latency histogram; the gateway process registers the same one for auth lookups. */
export function redisHistogram(registry: Registry): Histogram<'pool' | 'command'> {
  return new Histogram({
    name: 'tierbook_redis_command_duration_seconds',
    help: 'Redis command latency seen by the client, from send to reply (includes client-side queueing).',
    labelNames: ['pool', 'command'], buckets: REDIS_BUCKETS, registers: [registry],
  });
}

const TIMED = Symbol('tierbook.timed');

/**
 * Times each command through the client's one choke point, `sendCommand` (plain commands,
 * scripts and pipelines all pass there). A command re-sent from the offline queue is timed once.
 */
export function instrumentRedis(redis: Redis, histogram: Histogram<'pool' | 'command'>, pool: string): void {
  type Cmd = { name: string; promise: Promise<unknown>; [TIMED]?: boolean };
  const send = redis.sendCommand.bind(redis) as (cmd: Cmd, ...rest: unknown[]) => unknown;
  (redis as unknown as { sendCommand: typeof send }).sendCommand = (cmd, ...rest) => {
    if (!cmd[TIMED]) {
      cmd[TIMED] = true;
      const end = histogram.startTimer({ pool, command: cmd.name });
      // The call this command belongs to (worker threads), for its `redis` stage.
      const call = currentTiming();
      const sent = call ? performance.now() : 0;
      const settle = () => {
        end();
        if (call) call.redisMs += performance.now() - sent;
      };
      cmd.promise.then(settle, settle);
    }
    return send(cmd, ...rest);
  };
}

/** (action, status) pairs of an order mutation's response; nothing for other methods. */
function orderStatuses(name: string, payload: Uint8Array): [string, string][] {
  const one = (action: string, o: Order | undefined): [string, string][] => (o ? [[action, OrderStatus[o.status] ?? String(o.status)]] : []);
  switch (name) {
    case 'PlaceOrder':
      return one('place', fromBinary(PlaceOrderResponseSchema, payload).order);
    case 'PlaceOrders':
      return fromBinary(PlaceOrdersResponseSchema, payload).results.flatMap((r) =>
        r.result.case === 'placed' ? one('place', r.result.value.order) : [['place', 'ERROR'] as [string, string]],
      );
    case 'CancelOrder':
      return one('cancel', fromBinary(CancelOrderResponseSchema, payload).order);
    case 'AmendOrder':
      return one('amend', fromBinary(AmendOrderResponseSchema, payload).order);
    default:
      return [];
  }
}
