/**
 * A local 3-master Redis Cluster for tests: three cluster-enabled servers from the shared
 * test launcher, joined with `redis-cli --cluster create`, ready once every node reports
 * cluster_state:ok. Stop it in after().
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
import { startTestRedis, type TestServer } from './servers.js';
import { freePort } from '../../src/devstack/ports.js';

const run = promisify(execFile);

export interface TestCluster {
  nodes: TestServer[];
  client(): Cluster;
  /** FLUSHALL on every master. */
  flushAll(c: Cluster): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestCluster(): Promise<TestCluster> {
  const nodes = await Promise.all([0, 1, 2].map(() =>
    // The bus port is a free port of its own: Redis' default (port + 10000) may be taken by
    // another test's server, or overflow past 65535 for a port above 55535.
    startTestRedis(async () => ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000',
      '--cluster-require-full-coverage', 'no', '--cluster-port', String(await freePort())])));
  const clients: Cluster[] = [];
  const stop = async () => {
    for (const c of clients) c.disconnect();
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    for (const n of nodes) {
      const r = new Redis(n.url);
      try {
        for (let i = 0; ; i++) {
          const info = await r.cluster('INFO');
          if (String(info).includes('cluster_state:ok')) break;
          if (i > 200) throw new Error(`cluster node ${n.port} never became ready`);
          await sleep(50);
        }
      } finally {
        r.disconnect();
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes,
    client() {
      const c = new Cluster(nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));
      clients.push(c);
      return c;
    },
    async flushAll(c) {
      await Promise.all(c.nodes('master').map((n) => n.flushall()));
    },
    stop,
  };
}
