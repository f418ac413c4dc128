import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../shared/paths.js';
import type { Config } from '../shared/config.js';
import { adopt, isAlive, waitForPort } from './process.js';
import { spawnPrimary } from './primary.js';
import { startRedis } from './redis.js';
import { clusterUrl, startRedisCluster } from './redis-cluster.js';
import { clusterSeeds } from '../shared/redis.js';
import { startPostgres } from './postgres.js';
import { startNginx } from './nginx.js';
import { portsByRole } from '../shared/gateway-layout.js';
import { forgetHosts, stackHostAddresses, stackHosts, startGatewayHosts, stopExtraHosts } from './stack-hosts.js';

/** What a running stack is made of, kept in <stack dir>/pids.json so `down` stops exactly it. */
export interface StackState {
  redis?: number;
  postgres?: number;
  gateway?: number;
  nginx?: number;
}

/** With `--redis-cluster N`, kept beside pids.json: every node's pid (`redis` is the first) and the seed URL. */
export interface ClusterState {
  pids: number[];
  url: string;
}

const clusterFile = () => join(stackDir(), 'redis-cluster.json');

export function readClusterState(): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(clusterFile(), 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

export const STACK_ORDER: (keyof StackState)[] = ['redis', 'postgres', 'gateway', 'nginx'];

export function stackDir(): string {
  return process.env.TIERBOOK_STACK_DIR ?? fromRoot('.stack');
}

const pidsFile = () => join(stackDir(), 'pids.json');

export function readState(): StackState {
  try {
    return JSON.parse(readFileSync(pidsFile(), 'utf8')) as StackState;
  } catch {
    return {};
  }
}

export function writeState(state: StackState): void {
  mkdirSync(stackDir(), { recursive: true });
  writeFileSync(pidsFile(), JSON.stringify(state, null, 2));
}

/** The parts of the stack whose processes are still alive. */
export function liveParts(state = readState()): (keyof StackState)[] {
  return STACK_ORDER.filter((k) => state[k] !== undefined && isAlive(state[k]!));
}

export function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** Starts Redis on its append-only file: after a crash it replays the file (everysec fsync). */
export async function startRedisPart(config: Config, state: StackState): Promise<void> {
  const seeds = clusterSeeds(config.redisUrl);
  if (seeds) return startRedisClusterPart(seeds.map((s) => s.port), state);
  const redis = await startRedis({ dir: join(stackDir(), 'redis'), port: portOf(config.redisUrl), appendOnly: true, maxmemory: process.env.TIERBOOK_REDIS_MAXMEMORY || '4gb' });
  state.redis = redis.pid;
  writeState(state);
}

/** The cluster nodes' ports for `--redis-cluster n`: after the single Redis' port (56380, ...). */
export function clusterPorts(config: Config, n: number): number[] {
  const base = portOf(config.redisUrl.startsWith('redis-cluster:') ? 'redis://127.0.0.1:56379' : config.redisUrl) + 1;
  return Array.from({ length: n }, (_, i) => base + i);
}

/** Starts the Redis Cluster of `--redis-cluster N` (src/devstack/redis-cluster.ts). */
async function startRedisClusterPart(ports: number[], state: StackState): Promise<void> {
  const nodes = await startRedisCluster({ dir: join(stackDir(), 'redis-cluster'), ports, maxmemory: process.env.TIERBOOK_REDIS_MAXMEMORY || '4gb' });
  state.redis = nodes[0]!.pid;
  writeState(state);
  writeFileSync(clusterFile(), JSON.stringify({ pids: nodes.map((n) => n.pid), url: clusterUrl(ports) }, null, 2));
}

/** Starts Postgres on its data folder (after a crash it runs its own WAL recovery first). */
export async function startPostgresPart(config: Config, state: StackState): Promise<void> {
  const pg = await startPostgres({ dir: join(stackDir(), 'postgres'), port: portOf(config.databaseUrl) });
  state.postgres = pg.pid;
  writeState(state);
}

/** Starts `node dist/src/server/main.js` (the cluster primary) and waits for every port. */
export async function startGatewayCluster(config: Config, state: StackState): Promise<void> {
  const hosts = stackHosts(stackDir());
  if (hosts > 1) {
    // Several gateway hosts on loopback addresses of their own (src/devstack/stack-hosts.ts).
    return startGatewayHosts(config, stackDir(), hosts, (pid) => {
      state.gateway = pid;
      writeState(state);
    });
  }
  state.gateway = spawnPrimary(join(stackDir(), 'gateway.log'));
  writeState(state);
  for (let i = 0; i < config.gateway.processes; i++) {
    await waitForPort(config.gateway.basePort + i, config.gateway.host, 60_000);
  }
}

export async function startProxy(config: Config, state: StackState): Promise<void> {
  const ports = portsByRole(config);
  const nginx = await startNginx({
    dir: join(stackDir(), 'nginx'),
    port: config.nginxPort,
    upstreamPorts: ports.general,
    upstreamHosts: stackHostAddresses(stackDir()),
    ...(ports.premium.length > 0 ? { premium: { port: config.nginxPremiumPort, upstreamPorts: ports.premium } } : {}),
    maxMessageBytes: config.gateway.maxMessageBytes,
    // With certificates configured the gateways serve TLS, so nginx serves and proxies TLS too.
    ...(config.gateway.tls ? { tls: { ...config.gateway.tls, upstreamTls: true } } : {}),
  });
  state.nginx = nginx.pid;
  writeState(state);
}

/** Stops the given parts of pids.json, front to back (nginx first, the data stores last). */
export async function stopParts(parts: (keyof StackState)[], log: (line: string) => void = console.log): Promise<void> {
  const state = readState();
  for (const part of [...STACK_ORDER].reverse()) {
    const pid = state[part];
    // The other gateway hosts go with the first one, whether or not it still runs.
    if (part === 'gateway' && parts.includes(part)) await stopExtraHosts(stackDir(), log);
    if (pid === undefined || !parts.includes(part)) continue;
    // A cluster's other nodes stop with `redis` (their pids are in redisNodes).
    const pids = part === 'redis' ? readClusterState()?.pids ?? [pid] : [pid];
    for (const p of pids) {
      if (!isAlive(p)) continue;
      log(`stopping ${part} (pid ${p})`);
      await adopt(part, p).stop(20_000);
    }
  }
}

/** Stops everything pids.json names and forgets it. */
export async function stopStack(log: (line: string) => void = console.log): Promise<void> {
  await stopParts(STACK_ORDER, log);
  forgetHosts(stackDir());
  if (existsSync(pidsFile())) rmSync(pidsFile());
  if (existsSync(clusterFile())) rmSync(clusterFile());
}
