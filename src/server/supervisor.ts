import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../shared/config.js';

/** One gateway slot as the supervisor sees it. */
export interface GatewayStatus {
  index: number;
  /** The process serving this slot (during a rolling restart, the old one until the new is ready). */
  pid?: number;
  /** The process said it listens and serves. */
  ready: boolean;
  /** Unplanned exits of this slot since the primary started. */
  crashes: number;
}

export interface Supervisor {
  /** Graceful stop of every gateway process (each drains), then resolve. */
  stop(): Promise<void>;
  /** Replaces the processes one at a time; each replacement listens before the old one drains. */
  rollingRestart(): Promise<void>;
  status(): GatewayStatus[];
}

/** The message that drains a process replaced in a rolling restart (no health grace: main.ts). */
export const DRAIN_REPLACED = 'tierbook:drain-replaced';
const MAX_BACKOFF_MS = 30_000;
/**
 * A draining process gets this long beyond TIERBOOK_DRAIN_MS before SIGKILL: its drain
 * first waits up to 3 s for the proxy to close its connections and 0.5 s after the GOAWAY
 * notice (gateway-process.ts shutdown, drain-notice.ts), and closes its pools and
 * connections after the calls drained.
 */
const DRAIN_GRACE_MS = 3_500 + 5_000;
/** A process that lived this long before crashing starts its backoff from scratch. */
const STABLE_MS = 30_000;

/**
 * Forks and watches the gateway processes. A crashed process is restarted with exponential
 * backoff (250 ms doubling to 30 s; reset after 30 s of good life). The listening sockets
 * belong to the cluster primary: in a rolling restart the replacement joins the same port
 * before the old process stops accepting and drains, so no connection is refused.
 */
export async function superviseGateways(config: Config, logger: Logger, registry?: Registry): Promise<Supervisor> {
  const n = config.gateway.processes;
  const current = new Map<number, Worker>();
  /** During a rolling restart: the process still serving while its replacement starts. */
  const outgoing = new Map<number, Worker>();
  const ready = new WeakSet<Worker>();
  const failures = new Map<number, number>();
  const crashes = new Map<number, number>();
  let stopping = false;
  let rolling: Promise<void> | undefined;

  const restarts = registry && new Counter({
    name: 'tierbook_gateway_restarts_total', help: 'Gateway processes started again, by reason (crash or rolling).',
    labelNames: ['reason'], registers: [registry],
  });
  if (registry) {
    new Gauge({
      name: 'tierbook_gateway_processes_ready', help: 'Gateway processes that are listening and serving.', registers: [registry],
      collect() {
        this.set([...current.values()].filter((w) => ready.has(w) && !w.isDead()).length);
      },
    });
  }

  const fork = (index: number): Promise<Worker> =>
    new Promise((resolve, reject) => {
      const started = Date.now();
      const worker = cluster.fork({ TIERBOOK_GATEWAY_INDEX: String(index) });
      const onReady = (msg: unknown) => {
        if ((msg as { type?: string }).type !== 'ready') return;
        worker.off('message', onReady);
        ready.add(worker);
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
        crashes.set(index, (crashes.get(index) ?? 0) + 1);
        const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** f);
        logger.error({ index, gatewayPid: worker.process.pid, code, signal, restartInMs: delay }, 'gateway process died; restarting');
        setTimeout(() => {
          if (stopping) return;
          restarts?.inc({ reason: 'crash' });
          fork(index).then(
            (w) => logger.info({ index, gatewayPid: w.process.pid }, 'gateway process restarted'),
            (err: unknown) => logger.error({ err, index }, 'gateway restart failed'),
          );
        }, delay).unref();
      });
      current.set(index, worker);
    });

  /** Drains and stops a process: SIGTERM (health grace first), or, when it is `replaced`, the DRAIN_REPLACED message. */
  const stopWorker = (worker: Worker, replaced = false): Promise<void> =>
    new Promise((resolve) => {
      if (worker.isDead()) return resolve();
      const healthGraceMs = replaced ? 0 : config.gateway.drainHealthGraceMs;
      const kill = setTimeout(() => worker.process.kill('SIGKILL'), healthGraceMs + config.gateway.drainMs + DRAIN_GRACE_MS);
      worker.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      if (replaced) worker.send({ type: DRAIN_REPLACED });
      else worker.process.kill('SIGTERM');
    });

  await Promise.all(Array.from({ length: n }, (_, i) => fork(i)));
  logger.info({ processes: n, ports: `${config.gateway.basePort}-${config.gateway.basePort + n - 1}` }, 'gateway cluster up');

  return {
    async stop() {
      stopping = true;
      await rolling?.catch(() => {});
      await Promise.all([...current.values()].map((w) => stopWorker(w)));
    },
    rollingRestart() {
      // A second signal during a restart joins the one in progress.
      rolling ??= (async () => {
        logger.info('rolling restart');
        for (let i = 0; i < n && !stopping; i++) {
          const old = current.get(i);
          if (old) outgoing.set(i, old);
          const next = await fork(i).finally(() => outgoing.delete(i));
          restarts?.inc({ reason: 'rolling' });
          if (old) await stopWorker(old, true);
          logger.info({ index: i, gatewayPid: next.process.pid }, 'gateway replaced');
        }
        logger.info('rolling restart done');
      })().finally(() => (rolling = undefined));
      return rolling;
    },
    status() {
      return Array.from({ length: n }, (_, index) => {
        const w = current.get(index);
        const live = !!w && !w.isDead();
        const old = outgoing.get(index);
        const serving = live && ready.has(w) ? w : old && !old.isDead() && ready.has(old) ? old : undefined;
        return { index, pid: (serving ?? (live ? w : undefined))?.process.pid, ready: !!serving, crashes: crashes.get(index) ?? 0 };
      });
    },
  };
}
