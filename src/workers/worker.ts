import { setPriority } from 'node:os';
import { workerData, type MessagePort } from 'node:worker_threads';
import type { Sql } from 'postgres';
import { toWireError, ApiError } from '../domain/errors.js';
import type { Config } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { createRedis } from '../shared/redis.js';
import { createSql } from '../shared/postgres.js';
import type { WorkerContext } from './handler.js';
import { handlerFor } from './handlers.js';
import { CallSlots } from './call-slots.js';
import type { CallResult, CallTask } from './task.js';
import { startThreadMetrics, type ThreadMetrics } from './metrics-bridge.js';
import { nowMs, runTimed, type WorkerTiming } from './call-timing.js';
import { writePerTurn, type TurnWrites } from './write-per-turn.js';
import { EarlyResults, type IndexedResults } from './early-results.js';

/**
 * The Piscina worker: one per thread. Connections are made once per thread, on the first
 * call (not at import), and shared by the calls the thread runs concurrently.
 */
const { config, pool } = workerData as { config: Config; pool: string };
type ThreadContext = WorkerContext & { metrics: ThreadMetrics; writes: TurnWrites };
let ctx: ThreadContext | undefined;

function context(): ThreadContext {
  if (ctx) return ctx;
  const logger = createLogger(config).child({ module: 'worker', pool });
  // Lower this thread's OS priority (pid 0 = the calling thread on Linux): issue 6, docs/protection.md.
  const nice = config.threadNice[pool as keyof Config['threadNice']] ?? 0;
  if (nice > 0) {
    try {
      setPriority(0, nice);
    } catch (err) {
      logger.warn({ err, nice }, 'could not lower the worker thread priority');
    }
  }
  let sql: Sql | undefined;
  const metrics = startThreadMetrics(pool);
  const redis = createRedis(config.redisUrl);
  metrics.instrumentRedis(redis);
  ctx = {
    config,
    logger,
    metrics,
    redis,
    writes: writePerTurn(redis),
    sql: () => (sql ??= createSql(config.databaseUrl, { max: 2, appName: `tierbook-worker-${pool}`, waitMs: config.postgresWaitMs })),
  };
  return ctx;
}

/**
 * Piscina's entry: the calls that reached the gateway in one event-loop turn, run together.
 * A lone call's result is the task's result; a batch with a `port` answers each call as it
 * finishes (early-results.ts) and returns the results not sent yet.
 */
export default async function run({ batch, port }: { batch: CallTask[]; port?: MessagePort }): Promise<CallResult[] | IndexedResults> {
  // The batch's first Redis commands leave in one write (write-per-turn.ts).
  context().writes.hold();
  if (!port) return Promise.all(batch.map(runCall));
  const early = new EarlyResults(port);
  await Promise.all(batch.map((task, i) => runCall(task).then((r) => early.add(i, r))));
  return early.rest();
}

/** This thread's share of the pool's concurrency (TIERBOOK_*_CONCURRENCY). */
const slots = new CallSlots(config.pools[pool as 'premium' | 'shared'].concurrency);

async function runCall(task: CallTask): Promise<CallResult> {
  const c = context();
  await slots.acquire();
  // Started after the slot: the pool wait the metrics report includes the wait for a slot.
  const done = c.metrics.beginTask(task);
  const timing: WorkerTiming = { startedAt: nowMs(), finishedAt: 0, redisMs: 0 };
  try {
    if (task.deadline > 0 && Date.now() >= task.deadline) {
      throw new ApiError('DEADLINE_PASSED', 'the call deadline passed before the call could run; it was not executed');
    }
    if (task.cancelled && Atomics.load(task.cancelled, 0) === 1) {
      throw new ApiError('CALL_CANCELLED', 'the client cancelled the call before it could run; it was not executed');
    }
    const payload = await runTimed(timing, () => handlerFor(task.method)(c, task));
    done(true, payload);
    timing.finishedAt = nowMs();
    return { ok: true, payload, timing };
  } catch (err) {
    if (!(err instanceof ApiError)) {
      c.logger.error({ err, method: task.method, requestId: task.requestId }, 'unhandled error in handler');
    }
    done(false);
    timing.finishedAt = nowMs();
    return { ok: false, error: toWireError(err), timing };
  } finally {
    slots.release();
  }
}
