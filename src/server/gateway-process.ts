import type { Logger } from 'pino';
import type { Config } from '../shared/config.js';
import { createRedis } from '../shared/redis.js';
import { createSql } from '../shared/postgres.js';
import { Authenticator } from './authenticator.js';
import { buildServer } from './build-server.js';
import { TierPools } from './tier-pools.js';
import { createAdmission } from './admission.js';
import { serverCredentials } from './tls.js';
import { GatewayMetrics } from './metrics/gateway-metrics.js';
import { startCallTracer } from './metrics/call-tracer.js';
import { apiServices } from './service-definitions.js';
import { announceDrain } from './drain-notice.js';
import { poolsOf, type GatewayRole } from './gateway-role.js';
import { createExecutionStreams } from './execution-stream.js';
import { loadInstrumentsFile } from '../workers/orders/index.js';

export interface RunningGateway {
  port: number;
  /** This process's metrics (the primary pulls them over IPC; tests may read them directly). */
  metrics: GatewayMetrics;
  /**
   * Graceful: NOT_SERVING, keep serving for the health grace (not when `replaced`: a rolling
   * restart's replacement already listens), stop accepting, drain in-flight calls (up to
   * drainMs), close pools.
   */
  shutdown(opts?: { replaced?: boolean }): Promise<void>;
}

/**
 * One gateway process: its connections, its tier pools and its gRPC server, listening on
 * `port` (0 = any free port, for tests). A premium-role process serves only premium accounts
 * and runs only the premium pool (gateway-role.ts).
 */
export async function startGateway(config: Config, logger: Logger, port: number, processName = 'gateway', role: GatewayRole = 'general'): Promise<RunningGateway> {
  const metrics = new GatewayMetrics({ processName, logger, callLogSample: config.callLogSample });
  if (config.tracing.exporter !== 'off') metrics.tracer = await startCallTracer(config.tracing, logger.child({ module: 'tracing' }), processName);
  // This connection carries only tiny commands (auth lookups, one rate-limit script per
  // call) from many concurrent calls: auto-pipelining sends them in one write per tick.
  const redis = createRedis(config.redisUrl, { enableAutoPipelining: true });
  metrics.watchRedis(redis);
  const sql = createSql(config.databaseUrl, { max: 2, appName: 'tierbook-gateway' });
  const auth = new Authenticator({ redis, sql, cacheMs: config.gateway.authCacheMs, logger: logger.child({ module: 'auth' }) });
  const pools = new TierPools(config, undefined, poolsOf(role));
  metrics.watchPools(pools.pools, (pool) => pools.queueDepth(pool as 'premium' | 'shared'));
  const admission = createAdmission({ config, redis, logger, role });
  const symbols = loadInstrumentsFile(config.orders.instrumentsFile).map((i) => i.symbol);
  const executions = createExecutionStreams({
    redisUrl: config.redisUrl,
    logger: logger.child({ module: 'executions' }),
    symbols: () => symbols,
    maxSubscribers: config.gateway.maxStreams,
    heartbeatMs: config.gateway.streamHeartbeatMs,
  });
  const streams = { '/tierbook.v1.OrderService/StreamExecutions': executions.handle };
  const { server, health } = buildServer({ config, logger, role, auth, pools, streams, admit: admission.admit, tierDeadlineMs: admission.tierDeadlineMs, onDone: metrics.onDone });
  const detachMetrics = metrics.serveCluster();

  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${config.gateway.host}:${port}`, serverCredentials(config.gateway.tls), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  logger.info({ port: bound, role }, 'gateway listening');

  let closing: Promise<void> | undefined;
  return {
    port: bound,
    metrics,
    shutdown({ replaced = false } = {}) {
      closing ??= (async () => {
        health.setStatus('', 'NOT_SERVING');
        for (const svc of apiServices) health.setStatus(svc.typeName, 'NOT_SERVING');
        // Health grace: still listening and serving every call (nginx and other clients keep
        // working), but a health checker's fresh connection now reads NOT_SERVING and takes
        // this process (or host) out of rotation before it stops accepting.
        const graceMs = replaced ? 0 : config.gateway.drainHealthGraceMs;
        if (graceMs > 0) {
          logger.info({ graceMs }, 'health grace: NOT_SERVING, still accepting and serving before the drain');
          await new Promise((r) => setTimeout(r, graceMs));
        }
        // Stop accepting; let nginx close its connections to us (PINGs, no GOAWAY, so no call
        // it sends meanwhile is refused); only the connections still open after the quiet
        // phase get the GOAWAY notice, and a moment to read it before the final GOAWAY
        // (drain-notice.ts explains why).
        const drain = await announceDrain(server, {
          quietMs: Math.min(3_000, config.gateway.drainMs / 3),
          noticeMs: Math.min(500, config.gateway.drainMs / 4),
        });
        logger.info(drain, 'draining: stopped accepting; connections closed by their peer during the quiet phase, the rest notified with GOAWAY');
        // Streams never end on their own: close them first so the drain can finish; clients
        // resume from their cursor on another gateway.
        await executions.close();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            logger.warn('drain timed out; cancelling the calls still running');
            server.forceShutdown();
            resolve();
          }, config.gateway.drainMs);
          server.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        // Last counters to the primary while the threads can still answer: no count is lost.
        await metrics.sendFinal().catch((err: unknown) => logger.warn({ err }, 'final metrics not sent'));
        detachMetrics();
        // The spans of the drained calls leave before the process does.
        await metrics.tracer?.shutdown().catch((err: unknown) => logger.warn({ err }, 'spans not exported'));
        await pools.close();
        redis.disconnect();
        await sql.end({ timeout: 2 });
        logger.info('gateway stopped');
      })();
      return closing;
    },
  };
}
