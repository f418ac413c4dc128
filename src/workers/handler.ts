import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { Sql } from 'postgres';
import type { Config } from '../shared/config.js';
import type { CallTask } from './task.js';
import type { ThreadMetrics } from './metrics-bridge.js';

/**
 * What a worker thread owns: one set of connections per thread, created in the worker's
 * init, shared by every call that thread runs.
 */
export interface WorkerContext {
  config: Config;
  redis: Redis;
  /** Postgres, opened on first use (most order calls never need it). */
  sql(): Sql;
  logger: Logger;
  /** This thread's metrics, e.g. `ctx.metrics?.cacheLookup(...)` (absent in unit tests). */
  metrics?: ThreadMetrics;
}

/**
 * A unary RPC implementation: raw request bytes in, raw response bytes out. Throw an
 * ApiError for anything the client should see; any other throw becomes INTERNAL.
 */
export type UnaryHandler = (ctx: WorkerContext, call: CallTask) => Promise<Uint8Array>;
