import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Config } from '../shared/config.js';
import { emptyStats, type SyncStats } from './sync-stats.js';

export type { SyncStats } from './sync-stats.js';
export { accountVersionKey } from './account-version.js';

/** A running sync thread. */
export interface SyncThread {
  /** Lets the thread commit the batch in hand, then ends it. */
  stop(): Promise<void>;
  /** The thread's latest counters (posted every second). */
  stats(): SyncStats;
}

/** Restart delays after the thread died on its own (doubling, capped). */
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;

type ThreadMessage = { type: 'ready' | 'stopped' } | { type: 'stats'; stats: SyncStats } | { type: 'failed'; message: string };

/**
 * Starts the write-behind from the books' event streams to Postgres on a dedicated worker
 * thread (one consumer of the `sync.group` consumer group per host) and resolves once it has
 * migrated the database and started reading. While Postgres is unreachable the thread keeps
 * retrying and the promise stays pending: a caller that must not wait for Postgres (the
 * gateway primary serving orders) should not await it before serving. Rejects if the first
 * thread dies before it is ready.
 *
 * The thread is supervised: if it dies (postgres.js 3.4.9 can throw an uncatchable error
 * from a timer when a connection drops mid-write, porsager/postgres#1208), a new one starts
 * after a back-off. That is safe at any instant: unacknowledged entries stay pending in the
 * group and the new thread, the same consumer, re-reads them.
 */
export function startSyncThread(config: Config, logger: Logger): Promise<SyncThread> {
  const log = logger.child({ module: 'sync' });
  let latest: SyncStats = emptyStats();
  let worker: Worker | undefined;
  let stopping = false;
  let delay = RESTART_MIN_MS;
  let restartTimer: NodeJS.Timeout | undefined;

  const spawn = (first: boolean, onReady: () => void, onFailed: (err: Error) => void) => {
    const w = new Worker(new URL('./sync-thread.js', import.meta.url), {
      workerData: { config, bindings: { pid: process.pid } },
      name: 'tierbook-sync',
    });
    worker = w;
    let ready = false;
    w.on('message', (msg: ThreadMessage) => {
      if (msg.type === 'stats') latest = msg.stats;
      else if (msg.type === 'ready') {
        ready = true;
        onReady();
      } else if (msg.type === 'failed') log.error({ err: msg.message }, 'sync thread failed');
    });
    w.on('error', (err) => log.error({ err }, 'sync thread crashed'));
    w.on('exit', (code) => {
      if (worker === w) worker = undefined;
      if (stopping) return;
      if (!ready && first) return onFailed(new Error(`sync thread exited with code ${code} before it was ready`));
      log.error({ code, restartInMs: delay }, 'sync thread exited; restarting it');
      restartTimer = setTimeout(() => {
        spawn(false, () => (delay = RESTART_MIN_MS), () => {});
      }, delay);
      delay = Math.min(RESTART_MAX_MS, delay * 2);
    });
  };

  return new Promise((resolve, reject) => {
    spawn(
      true,
      () =>
        resolve({
          stats: () => latest,
          async stop() {
            stopping = true;
            clearTimeout(restartTimer);
            const w = worker;
            if (!w) return;
            await new Promise<void>((done) => {
              w.once('exit', () => done());
              w.on('message', (msg: ThreadMessage) => msg.type === 'stopped' && void w.terminate());
              w.postMessage('stop');
            });
          },
        }),
      reject,
    );
  });
}
