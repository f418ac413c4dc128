import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { Config } from '../shared/config.js';

export interface Supervisor {
  /** Graceful stop of every gateway process (each drains), then resolve. */
  stop(): Promise<void>;
  /** Replaces the processes one at a time; each replacement listens before the old one drains. */
  rollingRestart(): Promise<void>;
}

const MAX_BACKOFF_MS = 30_000;
/** A process that lived this long before crashing starts its backoff from scratch. */
const STABLE_MS = 30_000;

/**
 * Forks and watches the gateway processes. A crashed process is restarted with exponential
 * backoff. The listening sockets belong to the cluster primary, so while a process restarts,
 * new connections to its port wait in the backlog instead of being refused.
 */
export async function superviseGateways(config: Config, logger: Logger): Promise<Supervisor> {
  const n = config.gateway.processes;
  const current = new Map<number, Worker>();
  const failures = new Map<number, number>();
  let stopping = false;

  const fork = (index: number): Promise<Worker> =>
    new Promise((resolve, reject) => {
      const started = Date.now();
      const worker = cluster.fork({ TIERBOOK_GATEWAY_INDEX: String(index) });
      const onReady = (msg: unknown) => {
        if ((msg as { type?: string }).type !== 'ready') return;
        worker.off('message', onReady);
        resolve(worker);
      };
      worker.on('message', onReady);
      worker.once('exit', (code, signal) => {
        worker.off('message', onReady);
        reject(new Error(`gateway ${index} exited before it was ready`));
        if (current.get(index) !== worker || stopping) return;
        // An unplanned exit: restart with backoff.
        const lived = Date.now() - started;
        const f = lived > STABLE_MS ? 0 : (failures.get(index) ?? 0) + 1;
        failures.set(index, f);
        const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** f);
        logger.error({ index, code, signal, restartInMs: delay }, 'gateway process died; restarting');
        setTimeout(() => {
          if (stopping) return;
          const next = fork(index);
          next.catch((err: unknown) => logger.error({ err, index }, 'gateway restart failed'));
        }, delay).unref();
      });
      current.set(index, worker);
    });

  const stopWorker = (worker: Worker): Promise<void> =>
    new Promise((resolve) => {
      if (worker.isDead()) return resolve();
      const kill = setTimeout(() => worker.process.kill('SIGKILL'), config.gateway.drainMs + 5_000);
      worker.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      worker.process.kill('SIGTERM');
    });

  await Promise.all(Array.from({ length: n }, (_, i) => fork(i)));
  logger.info({ processes: n, ports: `${config.gateway.basePort}-${config.gateway.basePort + n - 1}` }, 'gateway cluster up');

  return {
    async stop() {
      stopping = true;
      await Promise.all([...current.values()].map(stopWorker));
    },
    async rollingRestart() {
      logger.info('rolling restart');
      for (let i = 0; i < n; i++) {
        const old = current.get(i);
        await fork(i);
        if (old) await stopWorker(old);
        logger.info({ index: i }, 'gateway replaced');
      }
    },
  };
}
