/**
 * The real gateway cluster for operations tests: Redis and Postgres on free ports, then
 * `node dist/src/server/main.js` (the cluster primary, N gateway processes, the sync thread,
 * the admin port) with its own ports, and real nginx in front. Nothing touches the
 * developer's .stack: every port, folder and log is this cluster's own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Sql } from 'postgres';
import type { Redis } from 'ioredis';
import { startNginx } from '../../../src/devstack/nginx.js';
import { consecutiveFreePorts, freePort } from '../../../src/devstack/ports.js';
import { createAccount } from '../../../src/shared/accounts-store.js';
import { createSql } from '../../../src/shared/postgres.js';
import { createRedis } from '../../../src/shared/redis.js';
import { fromRoot } from '../../../src/shared/paths.js';
import { migrate } from '../../../src/sync/migrate.js';
import type { TierName } from '../../../src/domain/tiers.js';
import type { GatewayStatus } from '../../../src/server/supervisor.js';
import { startTestPostgres, startTestRedis } from '../../support/servers.js';

export interface OpsCluster {
  /** nginx, host:port. */
  target: string;
  adminUrl: string;
  /** The current primary (a new one after restart()). */
  readonly primaryPid: number;
  gatewayPorts: number[];
  redis: Redis;
  sql: Sql;
  logFile: string;
  createAccount(tier: TierName): Promise<{ accountId: string; apiKey: string }>;
  readiness(): Promise<{ status: number; ready: boolean; gateways: GatewayStatus[]; sync: string }>;
  metricsText(): Promise<string>;
  signal(sig: NodeJS.Signals): void;
  /** Starts main.js again with the same environment (as systemd would) and waits until ready. */
  restart(): Promise<void>;
  /** SIGTERM to the primary; resolves with its exit code once it has gone (data stores stay). */
  terminate(): Promise<number | null>;
  stop(): Promise<void>;
}

/** Environment that makes load tests about the cluster, not about the tier protections. */
const OPEN_LIMITS = Object.fromEntries(['LITE', 'PRO', 'ELITE', 'BLACK'].map((t) => [`TIERBOOK_RATE_LIMIT_${t}`, '0']));

/**
 * A cluster primary's environment for operations tests: its data stores and ports, one thread
 * per pool, JSON logs at info without per-call lines, and no rate limits.
 */
export function primaryEnv(o: { redisUrl: string; databaseUrl: string; basePort: number; processes: number; adminPort: number; dir: string }): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TIERBOOK_REDIS_URL: o.redisUrl,
    TIERBOOK_DATABASE_URL: o.databaseUrl,
    TIERBOOK_GATEWAY_BASE_PORT: String(o.basePort),
    TIERBOOK_GATEWAY_PROCESSES: String(o.processes),
    TIERBOOK_ADMIN_PORT: String(o.adminPort),
    TIERBOOK_PREMIUM_THREADS: '1',
    TIERBOOK_SHARED_THREADS: '1',
    TIERBOOK_LOG_LEVEL: 'info',
    TIERBOOK_LOG_PRETTY: 'false',
    TIERBOOK_CALL_LOG_SAMPLE: '0',
    TIERBOOK_STACK_DIR: o.dir,
    ...OPEN_LIMITS,
  };
}

/** n consecutive free loopback ports (gateway i listens on base + i); premium-stack.test.ts uses it too. */
export { consecutiveFreePorts as consecutivePorts } from '../../../src/devstack/ports.js';

export async function startOpsCluster(opts: { processes?: number; env?: Record<string, string>; redisArgs?: string[] } = {}): Promise<OpsCluster> {
  const processes = opts.processes ?? 2;
  const [redisSrv, pgSrv] = await Promise.all([startTestRedis(opts.redisArgs), startTestPostgres()]);
  const dir = mkdtempSync(join(tmpdir(), 'tierbook-ops-'));
  const sql = createSql(pgSrv.url, { max: 4, appName: 'tierbook-ops-test' });
  const redis = createRedis(redisSrv.url);
  await migrate(sql);
  const [base, adminPort, nginxPort] = [await consecutiveFreePorts(processes), await freePort(), await freePort()];
  const logFile = join(dir, 'cluster.log');
  const env: NodeJS.ProcessEnv = {
    ...primaryEnv({ redisUrl: redisSrv.url, databaseUrl: pgSrv.url, basePort: base, processes, adminPort, dir }),
    TIERBOOK_DRAIN_MS: '5000',
    TIERBOOK_DRAIN_HEALTH_GRACE_MS: '200',
    TIERBOOK_SYNC_CONSUMER: `ops-test-${process.pid}`,
    ...opts.env,
  };
  const spawnPrimary = (): ChildProcess => {
    const out = openSync(logFile, 'a');
    const c = spawn(process.execPath, [fromRoot('dist', 'src', 'server', 'main.js')], { env, stdio: ['ignore', out, out], detached: true });
    closeSync(out);
    return c;
  };
  let child: ChildProcess = spawnPrimary();
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const gatewayPorts = Array.from({ length: processes }, (_, i) => base + i);

  const readiness = async () => {
    const res = await fetch(`${adminUrl}/readyz`);
    const body = (await res.json()) as { ready: boolean; gateways: GatewayStatus[]; sync: string };
    return { status: res.status, ...body };
  };
  const stopPrimary = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
  let nginx: { stop(): Promise<void> } | undefined;
  const cleanup = async () => {
    await nginx?.stop();
    await stopPrimary();
    redis.disconnect();
    await sql.end({ timeout: 2 });
    await Promise.all([redisSrv.stop(), pgSrv.stop()]);
  };
  const untilReady = async () => {
    const until = Date.now() + 60_000;
    for (;;) {
      const r = await readiness().catch(() => undefined);
      if (r?.ready && r.sync === 'running') return;
      if (child.exitCode !== null) throw new Error(`main.js exited with ${child.exitCode}:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
      if (Date.now() > until) throw new Error(`cluster not ready after 60 s:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
      await sleep(100);
    }
  };
  try {
    await untilReady();
    nginx = await startNginx({ dir: join(dir, 'nginx'), port: nginxPort, upstreamPorts: gatewayPorts, maxMessageBytes: 4 * 1024 * 1024 });
  } catch (err) {
    await cleanup();
    throw err;
  }

  return {
    target: `127.0.0.1:${nginxPort}`,
    adminUrl,
    gatewayPorts,
    redis,
    sql,
    logFile,
    createAccount: async (tier) => {
      const a = await createAccount(sql, redis, { name: `ops-${tier.toLowerCase()}`, tier });
      return { accountId: a.accountId, apiKey: a.apiKey };
    },
    readiness,
    metricsText: async () => (await fetch(`${adminUrl}/metrics`)).text(),
    get primaryPid() {
      return child.pid!;
    },
    signal: (sig) => child.kill(sig),
    async restart() {
      if (child.exitCode === null && child.signalCode === null) throw new Error('the primary is still running');
      child = spawnPrimary();
      await untilReady();
    },
    async terminate() {
      await stopPrimary();
      return child.exitCode;
    },
    async stop() {
      await cleanup();
      if (!process.env.TIERBOOK_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits (bounded) until `check` holds, polling. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}
