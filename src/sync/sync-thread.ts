/**
 * The sync worker thread's entry: builds its own logger and connections from the config it
 * is given (nothing crosses the thread boundary but plain data), runs the sync service, and
 * reports its counters to the owner. Messages in: 'stop'. Messages out: {type:'ready'},
 * {type:'stats', stats}, {type:'stopped'}, {type:'failed', message}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import type { Config } from '../shared/config.js';
import { startSyncService } from './sync-service.js';

/** How often counters are posted to the owning thread. */
const STATS_INTERVAL_MS = 1_000;

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('sync-thread.js must run as a worker thread');
  const { config, bindings } = workerData as { config: Config; bindings: Record<string, unknown> };
  // Synchronous writes: pino flushes an async destination at exit only on the main thread, and
  // the owner terminates this thread right after 'stopped', so a buffered last line ("sync
  // stopped" with its counters) would be lost. The sync logs a few lines a minute.
  const logger = pino({ level: config.logLevel }, pino.destination({ dest: 1, sync: true })).child({ ...bindings, module: 'sync' });
  const service = await startSyncService(config, logger);
  port.postMessage({ type: 'ready' });
  const timer = setInterval(() => port.postMessage({ type: 'stats', stats: service.stats() }), STATS_INTERVAL_MS);
  port.on('message', (msg: unknown) => {
    if (msg !== 'stop') return;
    clearInterval(timer);
    service.stop().then(
      () => {
        port.postMessage({ type: 'stats', stats: service.stats() });
        port.postMessage({ type: 'stopped' });
        port.close();
      },
      (err: unknown) => port.postMessage({ type: 'failed', message: String((err as Error)?.message ?? err) }),
    );
  });
}

main().catch((err: unknown) => {
  parentPort?.postMessage({ type: 'failed', message: String((err as Error)?.message ?? err) });
  process.exitCode = 1;
});
