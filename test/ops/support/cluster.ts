/**
 * The real gateway cluster for operations tests: Redis and Postgres on free ports, then
 * `node dist/src/server/main.js` (the cluster primary, N gateway processes, the sync thread,
 * the admin port) with its own ports, and real nginx in front. Nothing touches the
 * developer's .stack: every port, folder and log is this cluster's own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Sql } from 'postgres';
import type { Redis } from 'ioredis';
import { startNginx } from '../../../src/devstack/nginx.js';
import { freePort } from '../../../src/devstack/ports.js';
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
  primaryPid: number;
  gatewayPorts: number[];
  redis: Redis;
  sql: Sql;
  logFile: string;
  createAccount(tier: TierName): Promise<{ accountId: string; apiKey: string }>;
  readiness(): Promise<{ status: number; ready: boolean; gateways: GatewayStatus[]; sync: string }>;
  metricsText(): Promise<string>;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM to the primary; resolves with its exit code once it has gone (data stores stay). */
  terminate(): Promise<number | null>;
  stop(): Promise<void>;
}

/** Environment that makes load tests about the cluster, not about the tier protections. */
const OPEN_LIMITS = Object.fromEntries(['LITE', 'PRO', 'ELITE', 'BLACK'].map((t) => [`TIERBOOK_RATE_LIMIT_${t}`, '0']));

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** n consecutive free loopback ports (gateway i listens on base + i). */
async function consecutivePorts(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = await portIsFree(base + i);
    if (ok) return base;
  }
  throw new Error(`no ${n} consecutive free ports found`);
}

export async function startOpsCluster(opts: { processes?: number; env?: Record<string, string>; redisArgs?: string[] } = {}): Promise<OpsCluster> {
  const processes = opts.processes ?? 2;
  const [redisSrv, pgSrv] = await Promise.all([startTestRedis(opts.redisArgs), startTestPostgres()]);
  const dir = mkdtempSync(join(tmpdir(), 'tierbook-ops-'));
  const sql = createSql(pgSrv.url, { max: 4, appName: 'tierbook-ops-test' });
  const redis = createRedis(redisSrv.url);
  await migrate(sql);
  const [base, adminPort, nginxPort] = [await consecutivePorts(processes), await freePort(), await freePort()];
  const logFile = join(dir, 'cluster.log');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TIERBOOK_REDIS_URL: redisSrv.url,
    TIERBOOK_DATABASE_URL: pgSrv.url,
    TIERBOOK_GATEWAY_BASE_PORT: String(base),
    TIERBOOK_GATEWAY_PROCESSES: String(processes),
    TIERBOOK_ADMIN_PORT: String(adminPort),
    TIERBOOK_PREMIUM_THREADS: '1',
    TIERBOOK_SHARED_THREADS: '1',
    TIERBOOK_LOG_LEVEL: 'info',
    TIERBOOK_LOG_PRETTY: 'false',
    TIERBOOK_CALL_LOG_SAMPLE: '0',
    TIERBOOK_DRAIN_MS: '5000',
    TIERBOOK_SYNC_CONSUMER: `ops-test-${process.pid}`,
    TIERBOOK_STACK_DIR: dir,
    ...OPEN_LIMITS,
    ...opts.env,
  };
  const out = openSync(logFile, 'a');
  const child: ChildProcess = spawn(process.execPath, [fromRoot('dist', 'src', 'server', 'main.js')], { env, stdio: ['ignore', out, out], detached: true });
  closeSync(out);
  const primaryPid = child.pid!;
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
  try {
    const until = Date.now() + 60_000;
    for (;;) {
      const r = await readiness().catch(() => undefined);
      if (r?.ready && r.sync === 'running') break;
      if (child.exitCode !== null) throw new Error(`main.js exited with ${child.exitCode}:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
      if (Date.now() > until) throw new Error(`cluster not ready after 60 s:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
      await sleep(100);
    }
    nginx = await startNginx({ dir: join(dir, 'nginx'), port: nginxPort, upstreamPorts: gatewayPorts, maxMessageBytes: 4 * 1024 * 1024 });
  } catch (err) {
    await cleanup();
    throw err;
  }

  return {
    target: `127.0.0.1:${nginxPort}`,
    adminUrl,
    primaryPid,
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
    signal: (sig) => child.kill(sig),
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
