/**
 * The Redis a test runs against: one server, or a 3-master Redis Cluster when
 * TIERBOOK_TEST_REDIS_CLUSTER=1 (the cluster leg of `npm test` re-runs the integration tests
 * that way). Either is reached by URL (`redis://` or `redis-cluster://`), as production is.
 */
import type { Redis } from 'ioredis';
import { masters } from '../../src/shared/redis.js';
import { startTestCluster } from './redis-cluster.js';
import { startTestRedis } from './servers.js';

export interface SwitchableRedis {
  url: string;
  stop(): Promise<void>;
}

/** True in the cluster leg. */
export const ON_CLUSTER = process.env.TIERBOOK_TEST_REDIS_CLUSTER === '1';

export async function startSwitchableRedis(): Promise<SwitchableRedis> {
  if (!ON_CLUSTER) return startTestRedis();
  const cluster = await startTestCluster();
  return { url: `redis-cluster://${cluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`, stop: () => cluster.stop() };
}

/** FLUSHALL on every master (FLUSHALL is node-local on a cluster). */
export async function flushAll(redis: Redis): Promise<void> {
  await Promise.all((await masters(redis)).map((n) => n.flushall()));
}
