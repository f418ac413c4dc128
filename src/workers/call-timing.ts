import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';

/**
 * Where one call's time goes, stage by stage (docs/operations.md, "Where the time goes").
 * Stamps are epoch ms with sub-ms precision (`performance.timeOrigin + performance.now()`),
 * one clock for the gateway's event loop and its worker threads.
 *
 * The worker side: the thread's start and end of the call, and the time the call's own Redis
 * commands took (send to reply, summed; commands a call sends in parallel overlap). Redis time
 * is attributed to a call through AsyncLocalStorage, since a thread runs several calls at once
 * on one connection; the store is these three numbers.
 */
export interface WorkerTiming {
  startedAt: number;
  finishedAt: number;
  redisMs: number;
}

const current = new AsyncLocalStorage<WorkerTiming>();

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Runs one call's handler with its timing as the current store. */
export function runTimed<T>(timing: WorkerTiming, fn: () => Promise<T>): Promise<T> {
  return current.run(timing, fn);
}

/** The timing of the call whose code is running now, if any (for the Redis instrumentation). */
export function currentTiming(): WorkerTiming | undefined {
  return current.getStore();
}
