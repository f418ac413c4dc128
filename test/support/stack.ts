/**
 * A whole tierbook stack for integration tests: real Redis and Postgres on free ports,
 * migrations applied, one gateway process running in this test process on a free port, and
 * real nginx in front of it. Clients connect to `target` (nginx) or `gatewayTarget` (direct).
 */
import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sql } from 'postgres';
import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/shared/config.js';
import { createLogger } from '../../src/shared/logger.js';
import { createSql } from '../../src/shared/postgres.js';
import { createRedis, scanKeys } from '../../src/shared/redis.js';
import { createAccount } from '../../src/shared/accounts-store.js';
import { migrate } from '../../src/sync/migrate.js';
import { freePort } from '../../src/devstack/ports.js';
import { startNginx } from '../../src/devstack/nginx.js';
import { startGateway, type RunningGateway } from '../../src/server/gateway-process.js';
import type { TierName } from '../../src/domain/tiers.js';
import { startTestPostgres, type TestServer } from './servers.js';
import { startSwitchableRedis } from './test-redis.js';

export interface TestAccount {
  accountId: string;
  apiKey: string;
  tier: TierName;
}

export interface TestStack {
  config: Config;
  /** nginx's address, host:port. */
  target: string;
  /** The gateway's own address, bypassing nginx. */
  gatewayTarget: string;
  redis: Redis;
  sql: Sql;
  gateway: RunningGateway;
  createAccount(tier: TierName, name?: string): Promise<TestAccount>;
  /** Keys matching `pattern` on every master (KEYS is node-local on a cluster). */
  keys(pattern: string): Promise<string[]>;
  /** Deletes keys one by one (a multi-key DEL is refused across cluster slots). */
  del(keys: readonly string[]): Promise<void>;
  stop(): Promise<void>;
}

export interface TestStackOptions {
  /** Extra environment for loadConfig (e.g. small queue bounds). */
  env?: Record<string, string>;
  /** Skip nginx when a test only talks to the gateway. */
  withoutNginx?: boolean;
  /** A Redis the caller owns (e.g. one it kills and restarts) instead of a fresh one. */
  redisUrl?: string;
  /** A Postgres the caller owns (e.g. one it kills and restarts) instead of a fresh one. */
  databaseUrl?: string;
}

export async function startTestStack(opts: TestStackOptions = {}): Promise<TestStack> {
  const [redisSrv, pgSrv]: [{ url: string; stop(): Promise<void> } | undefined, TestServer | undefined] = await Promise.all([
    opts.redisUrl ? undefined : startSwitchableRedis(),
    opts.databaseUrl ? undefined : startTestPostgres(),
  ]);
  const nginxPort = await freePort();
  const config = loadConfig({
    TIERBOOK_REDIS_URL: opts.redisUrl ?? redisSrv!.url,
    TIERBOOK_DATABASE_URL: opts.databaseUrl ?? pgSrv!.url,
    TIERBOOK_LOG_LEVEL: 'warn',
    TIERBOOK_NGINX_PORT: String(nginxPort),
    TIERBOOK_PREMIUM_THREADS: '1',
    TIERBOOK_SHARED_THREADS: '1',
    // A test stack's stop drains at once (test/ops/health-probe.test.ts tests the grace).
    TIERBOOK_DRAIN_HEALTH_GRACE_MS: '0',
    ...opts.env,
  });
  const logger = createLogger(config);
  const sql = createSql(config.databaseUrl, { max: 2, appName: 'tierbook-test' });
  const redis = createRedis(config.redisUrl);
  await migrate(sql);
  const gateway = await startGateway(config, logger, 0);
  let nginx: { stop(): Promise<void> } | undefined;
  const nginxDir = mkdtempSync(join(tmpdir(), 'tierbook-nginx-'));
  chmodSync(nginxDir, 0o755);
  if (!opts.withoutNginx) {
    nginx = await startNginx({ dir: nginxDir, port: nginxPort, upstreamPorts: [gateway.port], maxMessageBytes: config.gateway.maxMessageBytes });
  }
  return {
    config,
    target: `127.0.0.1:${nginxPort}`,
    gatewayTarget: `127.0.0.1:${gateway.port}`,
    redis,
    sql,
    gateway,
    async createAccount(tier, name = `${tier.toLowerCase()}-test`) {
      const a = await createAccount(sql, redis, { name, tier });
      return { accountId: a.accountId, apiKey: a.apiKey, tier: a.tier };
    },
    async keys(pattern) {
      const out: string[] = [];
      await scanKeys(redis, pattern, [], (ks) => void out.push(...ks));
      return out;
    },
    async del(keys) {
      await Promise.all(keys.map((k) => redis.del(k)));
    },
    async stop() {
      await nginx?.stop();
      await gateway.shutdown();
      redis.disconnect();
      await sql.end({ timeout: 2 });
      await Promise.all([redisSrv?.stop(), pgSrv?.stop()]);
      rmSync(nginxDir, { recursive: true, force: true });
    },
  };
}
