import { Piscina } from 'piscina';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { ApiError } from '../domain/errors.js';
import { poolOf, type PoolName } from '../domain/tiers.js';
import type { Config, PoolConfig } from '../shared/config.js';
import type { CallResult, CallTask } from '../workers/task.js';
import { CallBatcher } from './call-batcher.js';
import { dispatchBatch } from './batch-dispatch.js';

const WORKER_FILE = fileURLToPath(new URL('../workers/worker.js', import.meta.url));

/** How long a client should wait before retrying a call refused for a full queue. */
const QUEUE_FULL_RETRY_MS = 50;

/**
 * The two Piscina pools, premium (ELITE, BLACK) and shared (LITE, PRO), each with its own
 * threads and its own bound, so that a flood of shared work can only fill the shared pool:
 * premium calls never wait behind it (DESIGN invariant 6).
 *
 * A pool holds at most `threads * concurrency + queue` calls; one more is refused at once with
 * RESOURCE_EXHAUSTED. The bound counts calls, not Piscina tasks, because calls travel to the
 * threads in batches (call-batcher.ts).
 */
export class TierPools {
  /** The pools this process runs (a premium-only gateway runs no shared threads). */
  readonly pools: Partial<Record<PoolName, Piscina>> = {};
  private readonly batchers: Partial<Record<PoolName, CallBatcher>> = {};
  private readonly limits: Partial<Record<PoolName, number>> = {};

  constructor(config: Config, workerFile: string = WORKER_FILE, serve: readonly PoolName[] = ['premium', 'shared']) {
    for (const name of serve) {
      const p: PoolConfig = config.pools[name];
      const pool = new Piscina({
        filename: workerFile,
        minThreads: p.threads,
        maxThreads: p.threads,
        concurrentTasksPerWorker: p.concurrency,
        // Bounded by CallBatcher in calls; Piscina's own queue holds batches and never refuses.
        maxQueue: Infinity,
        // Threads hold Redis sockets and wait on I/O: never park them in Atomics.wait.
        atomics: 'disabled',
        // Threads are long-lived (they own connections); only idle past a minute.
        idleTimeout: 60_000,
        workerData: { config, pool: name },
      });
      this.pools[name] = pool;
      this.batchers[name] = new CallBatcher((batch, deliver) => dispatchBatch(pool, batch, deliver), p.threads * p.concurrency);
      this.limits[name] = p.threads * p.concurrency + p.queue;
    }
  }

  /** Calls of a pool waiting beyond what its threads run at once: the queue depth. */
  queueDepth(pool: PoolName): number {
    return this.batchers[pool]?.waiting ?? 0;
  }

  /** Runs a call on its tier's pool; a full pool is RESOURCE_EXHAUSTED at once. */
  async run(task: CallTask, signal?: AbortSignal): Promise<CallResult> {
    const name = poolOf(task.tier);
    const batcher = this.batchers[name];
    // Only a gateway serving the wrong tier gets here (gateway-role.ts refuses it earlier).
    if (!batcher) throw new ApiError('PREMIUM_ENDPOINT_ONLY', `this gateway runs no ${name} pool`);
    // A client that cancelled while the call waited in authentication or admission is gone
    // before the call reaches a pool: its 'abort' event has already fired, so the listener
    // below would never raise the flag. Drop the call here instead of running it.
    if (signal?.aborted) {
      throw new ApiError('CALL_CANCELLED', 'the client cancelled the call before it could run; it was not executed');
    }
    if (batcher.inFlight >= this.limits[name]!) {
      throw new ApiError('TIER_QUEUE_FULL', `the ${name} pool is at its queue bound; retry later`, {
        retry_delay_ms: String(QUEUE_FULL_RETRY_MS),
        pool: name,
      });
    }
    // A call cancelled while it waits is not run: it raises a shared flag that the worker
    // reads just before it starts the call (the call itself is already on its way).
    if (signal) {
      const cancelled = new Int32Array(new SharedArrayBuffer(4));
      signal.addEventListener('abort', () => Atomics.store(cancelled, 0, 1), { once: true });
      task.cancelled = cancelled;
    }
    // Stamped here, read by the thread: how long the call waited for a thread (metrics-bridge.ts).
    task.queuedAt = performance.timeOrigin + performance.now();
    return batcher.submit(task);
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.pools).map((p) => p!.close()));
  }
}
