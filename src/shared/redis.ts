import type { Socket } from 'node:net';
import { Cluster, Redis, type ChainableCommander, type ClusterOptions, type RedisOptions } from 'ioredis';

/**
 * `TIERBOOK_REDIS_URL` names one Redis (`redis://host:port`) or a Redis Cluster by its seed
 * nodes (`redis-cluster://host:port,host:port,...`). Everything that connects goes through
 * createRedis / createBlockingRedis, so that one setting switches every component.
 */
export const CLUSTER_SCHEME = 'redis-cluster:';

/** The seed nodes of a `redis-cluster://` URL, or undefined for a single-Redis URL. */
export function clusterSeeds(url: string): { host: string; port: number }[] | undefined {
  if (!url.startsWith(`${CLUSTER_SCHEME}//`)) return undefined;
  const list = url.slice(CLUSTER_SCHEME.length + 2).replace(/\/.*$/, '');
  const seeds = list.split(',').filter(Boolean).map((hp) => {
    const i = hp.lastIndexOf(':');
    const port = Number(hp.slice(i + 1));
    if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`not host:port in a redis-cluster URL: "${hp}"`);
    return { host: hp.slice(0, i), port };
  });
  if (seeds.length === 0) throw new Error(`a redis-cluster URL names no node: "${url}"`);
  return seeds;
}

/** Whether `redis` is an ioredis Cluster client (set by ioredis on both client kinds). */
export function isCluster(redis: { isCluster?: boolean }): boolean {
  return redis.isCluster === true;
}

/**
 * A Cluster client behind the `Redis` type. ioredis' Cluster has the same command surface
 * (commands, defineCommand, multi/pipeline within one slot, status, events), which is all
 * the callers use; the few places that need a node-level view (SCAN, INFO, blocking reads
 * over several streams) check isCluster() and go per master.
 */
function connect(url: string, opts: RedisOptions): Redis {
  const seeds = clusterSeeds(url);
  if (!seeds) return new Redis(url, opts);
  const { enableAutoPipelining, enableOfflineQueue, retryStrategy, ...perNode } = opts;
  const clusterOpts: ClusterOptions = {
    enableAutoPipelining: enableAutoPipelining ?? false,
    enableOfflineQueue: enableOfflineQueue ?? true,
    clusterRetryStrategy: retryStrategy ?? ((times: number) => Math.min(times * 50, 2_000)),
    redisOptions: perNode,
  };
  return new Cluster(seeds, clusterOpts) as unknown as Redis;
}

/**
 * A Redis client for request paths. Commands fail fast while disconnected (bounded retries
 * per request, no offline queue growth without limit) so callers map them to UNAVAILABLE
 * instead of hanging past the client's deadline.
 */
export function createRedis(url: string, overrides: RedisOptions = {}): Redis {
  return quiet(connect(url, {
    maxRetriesPerRequest: 2,
    // Reconnect at least every 500 ms (ioredis' default backs off to 2 s): request paths
    // answer UNAVAILABLE while the connection is lost (lostConnection), so the sooner it is
    // back after Redis returns, the shorter the outage clients see.
    retryStrategy: (times: number) => Math.min(times * 50, 500),
    enableAutoPipelining: false,
    connectTimeout: 5_000,
    lazyConnect: false,
    ...overrides,
  }));
}

/**
 * Without an 'error' listener ioredis prints "[ioredis] Unhandled error event" for every
 * failed reconnect while Redis is down (dozens a second). The failures that matter reach the
 * callers as rejected commands (mapped to UNAVAILABLE); the connection's own errors are noise.
 */
function quiet(redis: Redis): Redis {
  redis.on('error', () => {});
  return redis;
}

/**
 * A connection that may block (XREAD/XREADGROUP BLOCK): it must never be shared with request
 * traffic, and it keeps retrying forever because its owner is a long-running loop.
 */
export function createBlockingRedis(url: string, overrides: RedisOptions = {}): Redis {
  return quiet(connect(url, { maxRetriesPerRequest: null, enableAutoPipelining: false, ...overrides }));
}

/**
 * Whether a client that was connected has lost its server and is retrying: a command sent
 * now would wait in ioredis' offline queue through growing reconnect delays. Callers that
 * can answer without Redis (fail open, another source, UNAVAILABLE) should do so at once.
 * A client still making its first connection ('connecting') is not "lost".
 */
export function lostConnection(redis: { status: string }): boolean {
  return redis.status === 'reconnecting' || redis.status === 'close' || redis.status === 'end';
}

/**
 * The masters to run node-local commands on (SCAN, FLUSHALL, INFO): every master of a
 * cluster, or the one Redis. A cluster client knows its nodes only once it has loaded the
 * slot table, so this waits for that first (a PING routes through it).
 */
export async function masters(redis: Redis): Promise<Redis[]> {
  if (!isCluster(redis)) return [redis];
  const cluster = redis as unknown as Cluster;
  if (cluster.status !== 'ready') await cluster.ping();
  return cluster.nodes('master');
}

/** Every key matching `pattern` on every master (SCAN is node-local on a cluster). */
export async function scanKeys(redis: Redis, pattern: string, extra: (string | number)[] = [], onKeys: (keys: string[]) => boolean | void = () => {}): Promise<void> {
  for (const node of await masters(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = (await node.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000, ...extra)) as [string, string[]];
      if (keys.length && onKeys(keys) === true) return;
      cursor = next;
    } while (cursor !== '0');
  }
}

/**
 * A pipeline whose commands may touch keys in different slots. On one Redis it is a plain
 * pipeline (one round trip); a cluster refuses a pipeline spanning nodes, so there each
 * command is sent on its own (ioredis routes each to its slot's master, following MOVED/ASK
 * and failovers per command) and exec() gathers the same [error, result] pairs. The sends
 * happen with every master's socket corked, so they still leave as one write per master:
 * one round trip to each node that holds a key. No atomicity either way, as with any pipeline.
 */
export function crossSlotPipeline(redis: Redis, commands: (string | number | Buffer)[][] = []): ChainableCommander {
  if (!isCluster(redis)) return redis.pipeline(commands as string[][]);
  const queued: [string, unknown[]][] = commands.map(([name, ...args]) => [String(name), args]);
  const proxy: ChainableCommander = new Proxy({} as ChainableCommander, {
    get(_t, prop) {
      if (prop === 'exec') {
        return () => {
          // A ready cluster client writes each command to its node's socket synchronously.
          const uncork = corkConnections((redis as unknown as Cluster).nodes('master'));
          try {
            return Promise.all(queued.map(([name, args]) =>
              (redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name]!(...args).then(
                (v): [Error | null, unknown] => [null, v], (e: Error): [Error | null, unknown] => [e, null])));
          } finally {
            uncork?.();
          }
        };
      }
      if (prop === 'length') return queued.length;
      if (prop === 'then') return undefined;
      return (...args: unknown[]) => {
        queued.push([String(prop), args]);
        return proxy;
      };
    },
  });
  return proxy;
}

/**
 * Holds the writes of these connections (their sockets corked) until the returned function is
 * called: commands sent meanwhile leave in one write per connection. Connections without a
 * live socket are skipped; returns undefined when none was corked.
 */
export function corkConnections(connections: Iterable<Redis>): (() => void) | undefined {
  const corked: Socket[] = [];
  for (const c of connections) {
    const s = (c as unknown as { stream?: Socket }).stream;
    if (s && !s.destroyed && s.writable) {
      s.cork();
      corked.push(s);
    }
  }
  return corked.length ? () => corked.forEach((s) => s.uncork()) : undefined;
}
