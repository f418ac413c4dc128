import { Gauge, type Registry } from 'prom-client';
import type { Cluster, Redis } from 'ioredis';
import { isCluster } from '../../shared/redis.js';

/** The INFO memory fields tierbook exports, by their Redis names. */
export interface RedisMemory {
  usedMemory: number;
  maxMemory: number;
}

/** One Redis server's `INFO memory` text, or undefined when that server did not answer. */
export interface NodeInfo {
  /** host:port, the `node` label. */
  node: string;
  text?: string;
}

/** Reads `used_memory` and `maxmemory` from the text of `INFO memory`. */
export function parseInfoMemory(info: string): RedisMemory {
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:(\\d+)\\s*$`, 'm').exec(info);
    if (!m) throw new Error(`INFO memory has no ${name} field`);
    return Number(m[1]);
  };
  return { usedMemory: field('used_memory'), maxMemory: field('maxmemory') };
}

const nodeName = (r: Redis): string => `${r.options.host ?? '127.0.0.1'}:${r.options.port ?? 6379}`;

/** host:port of every master in a `CLUSTER NODES` reply, failed ones too (not `noaddr` ones). */
export function clusterMasters(nodesText: string): string[] {
  return nodesText.split('\n').flatMap((line) => {
    const [, addr, flags] = line.split(' ');
    if (!addr || !flags) return [];
    const f = flags.split(',');
    return f.includes('master') && !f.includes('noaddr') ? [addr.split('@')[0]!] : [];
  });
}

/**
 * `INFO memory` of every server that holds data: the one Redis, or each master of a Redis
 * Cluster (each has its own maxmemory and fills on its own, as its books do). The masters
 * come from the cluster's own view (`CLUSTER NODES`), not from the client's connections: a
 * master that died is still listed, without text, until it is removed from the cluster.
 */
export async function infoMemoryByNode(redis: Redis | Cluster): Promise<NodeInfo[]> {
  if (!isCluster(redis)) {
    const r = redis as Redis;
    return [{ node: nodeName(r), text: await r.info('memory').then(String, () => undefined) }];
  }
  const c = redis as Cluster;
  const masters = clusterMasters(String(await c.cluster('NODES')));
  const connected = new Map(c.nodes('master').map((n) => [nodeName(n), n]));
  return Promise.all(masters.map(async (node) => ({
    node,
    text: await connected.get(node)?.info('memory').then(String, () => undefined),
  })));
}

/**
 * Redis memory on the primary's /metrics, per server (`node` label), sampled when Prometheus
 * scrapes (one `INFO memory` per server per scrape, shared by the gauges; no timer runs
 * between scrapes). Redis holds every open order and book: at `maxmemory` with `noeviction`
 * it refuses writes, so operators alert on used / max of each server well before
 * (deploy/prometheus/tierbook-alerts.yml).
 *
 * `info` must fail fast when Redis is away (the scrape must not hang on it): then that
 * server's `tierbook_redis_up` is 0 and its memory gauges keep their last sampled values.
 * A server that left the listing (a cluster master removed) leaves the gauges too.
 */
export function registerRedisMemoryMetrics(registry: Registry, info: () => Promise<NodeInfo[]>): void {
  const last = new Map<string, RedisMemory>();
  const up = new Map<string, boolean>();
  let inFlight: Promise<void> | undefined;
  // The gauges' collect() run concurrently within one scrape: they share one sample.
  const sample = (): Promise<void> => {
    inFlight ??= info()
      .then((nodes) => {
        const listed = new Set(nodes.map((n) => n.node));
        for (const known of [...up.keys()]) {
          if (listed.has(known)) continue;
          up.delete(known);
          last.delete(known);
        }
        for (const n of nodes) {
          let m: RedisMemory | undefined;
          try {
            m = n.text === undefined ? undefined : parseInfoMemory(n.text);
          } catch {
            m = undefined;
          }
          up.set(n.node, m !== undefined);
          if (m) last.set(n.node, m);
        }
      }, () => {
        // Not even a listing (no cluster master known): every server known so far is down.
        for (const known of up.keys()) up.set(known, false);
      })
      .finally(() => setImmediate(() => (inFlight = undefined)));
    return inFlight;
  };
  const gauge = (name: string, help: string, value: (node: string) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['node'],
      registers: [registry],
      async collect() {
        await sample();
        this.reset();
        for (const node of up.keys()) {
          const v = value(node);
          if (v !== undefined) this.set({ node }, v);
        }
      },
    });
  gauge('tierbook_redis_up', '1 when the last scrape could read INFO memory from this Redis server, else 0.', (n) => (up.get(n) ? 1 : 0));
  gauge('tierbook_redis_used_memory_bytes', 'Redis used_memory (INFO memory) of this server: bytes allocated for data and overhead.', (n) => last.get(n)?.usedMemory);
  gauge('tierbook_redis_maxmemory_bytes', 'Redis maxmemory (INFO memory) of this server; 0 means no limit is set.', (n) => last.get(n)?.maxMemory);
}
