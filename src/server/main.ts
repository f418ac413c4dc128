import cluster from 'node:cluster';
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import { Registry } from 'prom-client';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { startSyncThread, type SyncThread } from '../sync/index.js';
import { startAdminHttp } from './admin-http.js';
import { startGateway } from './gateway-process.js';
import { ClusterMetrics } from './metrics/cluster-metrics.js';
import { processRegistry } from './metrics/process-metrics.js';
import { registerSyncMetrics } from './metrics/sync-metrics.js';
import { infoMemoryByNode, registerRedisMemoryMetrics } from './metrics/redis-memory-metrics.js';
import { createRedis } from '../shared/redis.js';
import { roleOf } from '../shared/gateway-layout.js';
import { DRAIN_REPLACED, superviseGateways } from './supervisor.js';

/**
 * The gateway cluster's entry point. The primary supervises N gateway processes, runs this
 * host's sync thread and serves the admin port (metrics of every process and thread,
 * health, readiness); each gateway process listens on basePort + its index, and nginx
 * balances over them. Only this file binds ports, installs signal handlers and exits.
 *
 * Signals to the primary: SIGTERM/SIGINT = graceful stop (gateways drain, then the sync
 * commits the batch in hand); SIGHUP = rolling restart of the gateways.
 */
const config = loadConfig();
/** The sync gets this long to commit its batch at shutdown before the primary exits anyway. */
const SYNC_STOP_MS = 15_000;

if (cluster.isPrimary) {
  // Each gateway process accepts on its port's socket itself (the primary still owns the
  // socket, so a replacement joins it during a rolling restart). Not round-robin: there the
  // primary accepts and hands each connection over IPC, and a connection handed to a process
  // in the instant it is killed is never closed, so its call hangs until the client's deadline.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const logger = createLogger(config, { role: 'primary' });
  const own = new Registry();
  let sync: SyncThread | undefined;
  let syncState = config.primarySync ? 'starting' : 'off';
  let stopping = false;
  registerSyncMetrics(own, () => sync?.stats());
  // One connection of the primary's own, for INFO memory at scrape time: no offline queue
  // and a 1 s command timeout, so a scrape while Redis is away answers (tierbook_redis_up 0).
  const infoRedis = createRedis(config.redisUrl, { enableOfflineQueue: false, commandTimeout: 1_000, maxRetriesPerRequest: 0 });
  infoRedis.on('error', (err: unknown) => logger.debug({ err }, 'metrics redis connection error'));
  registerRedisMemoryMetrics(own, () => infoMemoryByNode(infoRedis));
  // Listening before the first fork, so it sees every process's counters and exit.
  const metrics = new ClusterMetrics([processRegistry('primary'), own]);
  let supervisor: Awaited<ReturnType<typeof superviseGateways>> | undefined;
  // The admin port is auxiliary: if it cannot be bound, the gateways still serve (and the
  // missing /readyz makes a probing orchestrator notice).
  const admin = await startAdminHttp({
    host: config.adminHost,
    port: config.adminPort,
    logger: logger.child({ module: 'admin' }),
    metrics: () => metrics.metrics(),
    metricsContentType: metrics.contentType,
    readiness: () => {
      const gateways = supervisor?.status() ?? [];
      const ready = !stopping && gateways.length > 0 && gateways.every((g) => g.ready) && syncState !== 'failed';
      return { ready, stopping, gateways, sync: syncState };
    },
  }).catch((err: unknown) => {
    logger.error({ err, port: config.adminPort }, 'admin port unavailable: no /metrics, /healthz or /readyz');
    return undefined;
  });
  supervisor = await superviseGateways(config, logger, own);
  if (config.primarySync) {
    startSyncThread(config, logger).then(
      (s) => {
        sync = s;
        syncState = 'running';
      },
      (err: unknown) => {
        syncState = 'failed';
        logger.error({ err }, 'the sync thread could not start');
      },
    );
  }

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining gateways');
    await supervisor.stop();
    // After the gateways: the events of the calls they drained are in the streams by now.
    if (sync) {
      logger.info('stopping the sync after its batch');
      const timeout = new Promise<void>((r) => setTimeout(r, SYNC_STOP_MS).unref());
      await Promise.race([sync.stop(), timeout]);
    }
    metrics.close();
    await admin?.close();
    infoRedis.disconnect();
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  // A rolling restart runs the code on disk: the sync thread first, then the gateways one by
  // one. The sync goes first because a new version's book scripts may write events that only
  // its own sync reads in full (fill events carrying the final order states, docs/matching.md);
  // restarting the thread is safe at any instant (it commits its batch; the group keeps the rest).
  const rollingRestart = async () => {
    if (sync) {
      await sync.stop();
      sync = undefined;
      try {
        sync = await startSyncThread(config, logger);
      } catch (err) {
        syncState = 'failed';
        throw err;
      }
      logger.info('rolling restart: the sync thread runs the code on disk');
    }
    await supervisor.rollingRestart();
  };
  process.on('SIGHUP', () => {
    if (!stopping) void rollingRestart().catch((err: unknown) => logger.error({ err }, 'rolling restart failed'));
  });
} else {
  const index = Number(process.env.TIERBOOK_GATEWAY_INDEX ?? '0');
  const role = roleOf(config, index);
  const logger = createLogger(config, { role: 'gateway', index, serves: role });
  // With premium-only processes, the general ones yield the CPU to them when it is short.
  // Set before the pools start: their threads inherit it (shared threads go lower still).
  if (role === 'general' && config.gateway.premiumProcesses > 0 && config.gateway.generalNice > 0) {
    try {
      // Linux nice is per thread: every thread this process has so far (V8's helpers too).
      for (const tid of readdirSync('/proc/self/task')) setPriority(Number(tid), config.gateway.generalNice);
    } catch (err) {
      logger.warn({ err }, 'could not lower the gateway process priority');
    }
  }
  const gateway = await startGateway(config, logger, config.gateway.basePort + index, `gateway-${index}`, role);
  process.send?.({ type: 'ready', index });
  let stopping = false;
  const stop = (replaced = false) => {
    if (stopping) return;
    stopping = true;
    void gateway.shutdown({ replaced }).then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop());
  // A rolling restart replaces this process: its replacement already serves on the port, so
  // the drain skips the health grace (supervisor.ts sends this instead of SIGTERM).
  process.on('message', (msg: unknown) => {
    if ((msg as { type?: string }).type === DRAIN_REPLACED) stop(true);
  });
  // The primary is gone (killed): nobody supervises this process any more; drain and leave.
  process.once('disconnect', () => stop());
  // Ctrl-C reaches the whole process group; the primary decides the order of shutdown.
  process.on('SIGINT', () => {});
}
