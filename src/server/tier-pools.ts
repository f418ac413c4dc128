import { Piscina } from 'piscina';
import { fileURLToPath } from 'node:url';
import { ApiError } from '../domain/errors.js';
import { poolOf, type PoolName } from '../domain/tiers.js';
import type { Config, PoolConfig } from '../shared/config.js';
import type { CallResult, CallTask } from '../workers/task.js';

const WORKER_FILE = fileURLToPath(new URL('../workers/worker.js', import.meta.url));

/** How long a client should wait before retrying a call refused for a full queue. */
const QUEUE_FULL_RETRY_MS = 50;

/**
 * The two Piscina pools, premium (ELITE, BLACK) and shared (LITE, PRO), each with its own
 * threads and its own queue bound, so that a flood of shared work can only fill the shared
 * queue: premium calls never wait behind it (DESIGN invariant 6).
 */
export class TierPools {
  readonly pools: Record<PoolName, Piscina<CallTask, CallResult>>;

  constructor(config: Config, workerFile: string = WORKER_FILE) {
    const make = (name: PoolName, p: PoolConfig) =>
      new Piscina<CallTask, CallResult>({
        filename: workerFile,
        minThreads: p.threads,
        maxThreads: p.threads,
        concurrentTasksPerWorker: p.concurrency,
        maxQueue: p.queue,
        // Threads hold Redis sockets and wait on I/O: never park them in Atomics.wait.
        atomics: 'disabled',
        // Threads are long-lived (they own connections); only idle past a minute.
        idleTimeout: 60_000,
        workerData: { config, pool: name },
      });
    this.pools = { premium: make('premium', config.pools.premium), shared: make('shared', config.pools.shared) };
  }

  /** Runs a call on its tier's pool; a full queue is RESOURCE_EXHAUSTED at once. */
  async run(task: CallTask, signal?: AbortSignal): Promise<CallResult> {
    const pool = this.pools[poolOf(task.tier)];
    try {
      return await pool.run(task, signal ? { signal } : {});
    } catch (err) {
      if (err instanceof Error && err.message === 'Task queue is at limit') {
        throw new ApiError('TIER_QUEUE_FULL', `the ${poolOf(task.tier)} pool is at its queue bound; retry later`, {
          retry_delay_ms: String(QUEUE_FULL_RETRY_MS),
          pool: poolOf(task.tier),
        });
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.pools).map((p) => p.close()));
  }
}
