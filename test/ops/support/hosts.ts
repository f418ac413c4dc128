/**
 * Two (or more) gateway hosts on one machine for operations tests and the host-kill bench:
 * Redis and Postgres on free ports, then one `node dist/src/server/main.js` per host (a whole
 * cluster primary: gateway processes, admin port, its own sync consumer in the shared group),
 * each bound to its own loopback address (src/devstack/hosts.ts) with the same ports, and one
 * real nginx whose upstream lists every gateway port on every host. Nothing outside loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Sql } from 'postgres';
import type { Redis } from 'ioredis';
import { startNginx } from '../../../src/devstack/nginx.js';
import { consecutiveFreePorts, freePort } from '../../../src/devstack/ports.js';
import { hostAddress, hostEnv } from '../../../src/devstack/hosts.js';
import { isAlive } from '../../../src/devstack/process.js';
import { createAccount } from '../../../src/shared/accounts-store.js';
import { createSql } from '../../../src/shared/postgres.js';
import { createRedis } from '../../../src/shared/redis.js';
import { fromRoot } from '../../../src/shared/paths.js';
import { migrate } from '../../../src/sync/migrate.js';
import type { TierName } from '../../../src/domain/tiers.js';
import type { GatewayStatus } from '../../../src/server/supervisor.js';
import { startTestPostgres } from '../../support/servers.js';
import { startSwitchableRedis } from '../../support/test-redis.js';
import { parseSamples, total } from './prom-text.js';
import { primaryEnv } from './cluster.js';

export interface GatewayHost {
  index: number;
  address: string;
  /** The host's sync consumer name (TIERBOOK_SYNC_CONSUMER). */
  consumer: string;
  /** host:port of each of its gateway processes. */
  gatewayTargets: string[];
  adminUrl: string;
  /** The primary's pid (its process group holds the gateway processes too). */
  pid: number;
  logFile: string;
  readiness(): Promise<{ status: number; ready: boolean; gateways: GatewayStatus[]; sync: string }>;
  /** A counter or gauge from the host's /metrics, summed over its labels. */
  metric(name: string): Promise<number>;
  /** kill -9 of the host's whole process tree (primary, gateways, sync thread), at once. */
  kill9(): Promise<void>;
}

export interface TwoHosts {
  /** nginx, host:port. */
  target: string;
  hosts: GatewayHost[];
  redis: Redis;
  sql: Sql;
  redisUrl: string;
  databaseUrl: string;
  dir: string;
  createAccount(tier: TierName): Promise<{ accountId: string; apiKey: string }>;
  stop(): Promise<void>;
}

export interface TwoHostsOptions {
  hosts?: number;
  /** Gateway processes per host. */
  processes?: number;
  /** Environment for every host. */
  env?: Record<string, string>;
  /** Extra environment per host index (e.g. a sync that holds its batches longer). */
  hostEnv?: Record<number, Record<string, string>>;
}

export async function startTwoHosts(opts: TwoHostsOptions = {}): Promise<TwoHosts> {
  const nHosts = opts.hosts ?? 2;
  const processes = opts.processes ?? 1;
  // One Redis, or a 3-master cluster with TIERBOOK_TEST_REDIS_CLUSTER=1 (the cluster leg, the bench).
  const [redisSrv, pgSrv] = await Promise.all([startSwitchableRedis(), startTestPostgres()]);
  const dir = mkdtempSync(join(tmpdir(), 'tierbook-hosts-'));
  chmodSync(dir, 0o755);
  const sql = createSql(pgSrv.url, { max: 4, appName: 'tierbook-hosts-test' });
  const redis = createRedis(redisSrv.url);
  await migrate(sql);
  // The same ports on every host: free on 127.0.0.1 means no wildcard listener holds them.
  const [base, adminPort, nginxPort] = [await consecutiveFreePorts(processes), await freePort(), await freePort()];
  const children: ChildProcess[] = [];
  const hosts: GatewayHost[] = [];
  let nginx: { stop(): Promise<void> } | undefined;

  const cleanup = async () => {
    await nginx?.stop();
    await Promise.all(children.map((c) => stopChild(c)));
    redis.disconnect();
    await sql.end({ timeout: 2 });
    await Promise.all([redisSrv.stop(), pgSrv.stop()]);
  };

  try {
    for (let i = 0; i < nHosts; i++) {
      const own = hostEnv(i);
      const logFile = join(dir, `host-${i}.log`);
      const env: NodeJS.ProcessEnv = {
        ...primaryEnv({ redisUrl: redisSrv.url, databaseUrl: pgSrv.url, basePort: base, processes, adminPort, dir }),
        TIERBOOK_DRAIN_MS: '3000',
        ...opts.env,
        ...own,
        ...opts.hostEnv?.[i],
      };
      const out = openSync(logFile, 'a');
      const child = spawn(process.execPath, [fromRoot('dist', 'src', 'server', 'main.js')], { env, stdio: ['ignore', out, out], detached: true });
      closeSync(out);
      children.push(child);
      const address = hostAddress(i);
      const adminUrl = `http://${address}:${adminPort}`;
      const readiness = async () => {
        const res = await fetch(`${adminUrl}/readyz`);
        const body = (await res.json()) as { ready: boolean; gateways: GatewayStatus[]; sync: string };
        return { status: res.status, ...body };
      };
      hosts.push({
        index: i,
        address,
        consumer: env.TIERBOOK_SYNC_CONSUMER!,
        gatewayTargets: Array.from({ length: processes }, (_, p) => `${address}:${base + p}`),
        adminUrl,
        pid: child.pid!,
        logFile,
        readiness,
        metric: async (name) => total(parseSamples(await (await fetch(`${adminUrl}/metrics`)).text()), name),
        async kill9() {
          // The primary was started detached: its process group is the whole host.
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            /* already gone */
          }
          while (isAlive(child.pid!)) await sleep(20);
        },
      });
    }
    await Promise.all(hosts.map((h, i) => untilReady(h, children[i]!)));
    nginx = await startNginx({
      dir: join(dir, 'nginx'),
      port: nginxPort,
      upstreamPorts: Array.from({ length: processes }, (_, p) => base + p),
      upstreamHosts: hosts.map((h) => h.address),
      maxMessageBytes: 4 * 1024 * 1024,
    });
  } catch (err) {
    await cleanup();
    throw err;
  }

  return {
    target: `127.0.0.1:${nginxPort}`,
    hosts,
    redis,
    sql,
    redisUrl: redisSrv.url,
    databaseUrl: pgSrv.url,
    dir,
    createAccount: async (tier) => {
      const a = await createAccount(sql, redis, { name: `hosts-${tier.toLowerCase()}`, tier });
      return { accountId: a.accountId, apiKey: a.apiKey };
    },
    async stop() {
      await cleanup();
      if (!process.env.TIERBOOK_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function untilReady(host: GatewayHost, child: ChildProcess): Promise<void> {
  const until = Date.now() + 90_000;
  for (;;) {
    const r = await host.readiness().catch(() => undefined);
    if (r?.ready && r.sync === 'running') return;
    if (child.exitCode !== null) throw new Error(`host ${host.index} exited with ${child.exitCode}:\n${readFileSync(host.logFile, 'utf8').slice(-2000)}`);
    if (Date.now() > until) throw new Error(`host ${host.index} not ready after 90 s:\n${readFileSync(host.logFile, 'utf8').slice(-2000)}`);
    await sleep(100);
  }
}

/** SIGTERM (the host drains and its sync commits), SIGKILL to the group after 30 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  const pid = child.pid!;
  if (!isAlive(pid)) return;
  child.kill('SIGTERM');
  const until = Date.now() + 30_000;
  while (isAlive(pid) && Date.now() < until) await sleep(50);
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* the group is gone */
  }
  while (isAlive(pid)) await sleep(20);
}
