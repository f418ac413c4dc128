import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startRedis } from './redis.js';
import type { OwnedProcess } from './process.js';

const run = promisify(execFile);

export interface RedisClusterOptions {
  /** Each node keeps its data (AOF, nodes.conf) in `<dir>/node-<port>`. */
  dir: string;
  /** One master per port. */
  ports: number[];
  maxmemory?: string;
}

/**
 * The cluster's seed URL for TIERBOOK_REDIS_URL (src/shared/redis.ts): `redis-cluster://` and
 * every node, so a client finds the cluster even if one node is down at its start.
 */
export function clusterUrl(ports: readonly number[]): string {
  return `redis-cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
}

/**
 * The Redis bus port of a node. Redis' default (port + 10000) overflows for the stack's
 * ports in the 56xxx range, so the bus sits 10000 *below* instead.
 */
function busPort(port: number): number {
  return port > 55_535 ? port - 10_000 : port + 10_000;
}

/**
 * Starts one cluster-enabled Debian redis-server per port, with the stack's persistence
 * settings (AOF everysec, noeviction). The first time, joins them with
 * `redis-cli --cluster create` (masters only, slots split evenly); afterwards each node's
 * nodes.conf brings the same cluster back. Resolves once every node says cluster_state:ok.
 */
export async function startRedisCluster(opts: RedisClusterOptions): Promise<OwnedProcess[]> {
  const dirs = opts.ports.map((p) => join(opts.dir, `node-${p}`));
  const fresh = dirs.every((d) => !existsSync(join(d, 'nodes.conf')));
  const nodes: OwnedProcess[] = [];
  try {
    for (const [i, port] of opts.ports.entries()) {
      nodes.push(await startRedis({
        dir: dirs[i]!, port, appendOnly: true, maxmemory: opts.maxmemory,
        extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000',
          // Books are independent: with one master away, the books on the others keep trading.
          '--cluster-require-full-coverage', 'no',
          '--cluster-port', String(busPort(port))],
      }));
    }
    if (fresh) {
      await run('redis-cli', ['--cluster', 'create', ...opts.ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    }
    await Promise.all(opts.ports.map((p) => waitForClusterOk(p)));
    return nodes;
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop(10_000)));
    throw err;
  }
}

/** Polls CLUSTER INFO on one node until the cluster serves every slot (or 30 s pass). */
async function waitForClusterOk(port: number): Promise<void> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  try {
    for (const until = Date.now() + 30_000; ; ) {
      const info = await r.cluster('INFO').catch(() => '');
      if (String(info).includes('cluster_state:ok')) return;
      if (Date.now() > until) throw new Error(`redis cluster node ${port} never reached cluster_state:ok`);
      await sleep(100);
    }
  } finally {
    r.disconnect();
  }
}
