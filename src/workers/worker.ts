import { workerData } from 'node:worker_threads';
import type { Sql } from 'postgres';
import { toWireError, ApiError } from '../domain/errors.js';
import type { Config } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { createRedis } from '../shared/redis.js';
import { createSql } from '../shared/postgres.js';
import type { WorkerContext } from './handler.js';
import { handlerFor } from './handlers.js';
import type { CallResult, CallTask } from './task.js';

/**
 * The Piscina worker: one per thread. Connections are made once per thread, on the first
 * call (not at import), and shared by the calls the thread runs concurrently.
 */
const { config, pool } = workerData as { config: Config; pool: string };
let ctx: WorkerContext | undefined;

function context(): WorkerContext {
  if (ctx) return ctx;
  const logger = createLogger(config).child({ module: 'worker', pool });
  let sql: Sql | undefined;
  ctx = {
    config,
    logger,
    redis: createRedis(config.redisUrl),
    sql: () => (sql ??= createSql(config.databaseUrl, { max: 2, appName: `tierbook-worker-${pool}` })),
  };
  return ctx;
}

export default async function run(task: CallTask): Promise<CallResult> {
  const c = context();
  try {
    if (task.deadline > 0 && Date.now() >= task.deadline) {
      throw new ApiError('DEADLINE_PASSED', 'the call deadline passed before the call could run; it was not executed');
    }
    const payload = await handlerFor(task.method)(c, task);
    return { ok: true, payload };
  } catch (err) {
    if (!(err instanceof ApiError)) {
      c.logger.error({ err, method: task.method, requestId: task.requestId }, 'unhandled error in handler');
    }
    return { ok: false, error: toWireError(err) };
  }
}
