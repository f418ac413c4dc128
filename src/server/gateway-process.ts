import { ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Config } from '../shared/config.js';
import { createRedis } from '../shared/redis.js';
import { createSql } from '../shared/postgres.js';
import { Authenticator } from './authenticator.js';
import { buildServer } from './build-server.js';
import { TierPools } from './tier-pools.js';

export interface RunningGateway {
  port: number;
  /** Graceful: NOT_SERVING, stop accepting, drain in-flight calls (up to drainMs), close pools. */
  shutdown(): Promise<void>;
}

/**
 * One gateway process: its connections, its two tier pools and its gRPC server, listening on
 * `port` (0 = any free port, for tests).
 */
export async function startGateway(config: Config, logger: Logger, port: number): Promise<RunningGateway> {
  const redis = createRedis(config.redisUrl);
  const sql = createSql(config.databaseUrl, { max: 2, appName: 'tierbook-gateway' });
  const auth = new Authenticator({ redis, sql, cacheMs: config.gateway.authCacheMs, logger: logger.child({ module: 'auth' }) });
  const pools = new TierPools(config);
  const { server, health } = buildServer({ config, logger, auth, pools });

  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${config.gateway.host}:${port}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  logger.info({ port: bound }, 'gateway listening');

  let closing: Promise<void> | undefined;
  return {
    port: bound,
    shutdown() {
      closing ??= (async () => {
        health.setStatus('', 'NOT_SERVING');
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
        await pools.close();
        redis.disconnect();
        await sql.end({ timeout: 2 });
        logger.info('gateway stopped');
      })();
      return closing;
    },
  };
}
