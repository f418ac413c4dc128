/**
 * Redis memory on /metrics for a Redis Cluster: every master is its own series (`node`), with
 * its own maxmemory, so the master that fills (the books it holds) is the one an operator sees
 * and the alert names; a master that stops answering reads `tierbook_redis_up{node} 0`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { Cluster } from 'ioredis';
import { createRedis } from '../../src/shared/redis.js';
import { infoMemoryByNode, registerRedisMemoryMetrics } from '../../src/server/metrics/redis-memory-metrics.js';
import { startTestCluster, type TestCluster } from '../support/redis-cluster.js';

let cluster: TestCluster;
let redis: Cluster;
before(async () => {
  cluster = await startTestCluster();
  // As the primary's own INFO connection (src/server/main.ts): fail fast, no offline queue.
  redis = createRedis(`redis-cluster://${cluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    { enableOfflineQueue: false, commandTimeout: 1_000, maxRetriesPerRequest: 0 }) as unknown as Cluster;
  await new Promise((resolve) => redis.once('ready', resolve));
});
after(async () => {
  redis?.disconnect();
  await cluster?.stop();
});

/** The gauge's value per node label. */
async function byNode(registry: Registry, name: string): Promise<Record<string, number>> {
  const m = await registry.getSingleMetric(name)!.get();
  return Object.fromEntries(m.values.map((v) => [String(v.labels.node), v.value]));
}

test('each master of a Redis Cluster has its own used memory, maxmemory and up', async () => {
  const registry = new Registry();
  registerRedisMemoryMetrics(registry, () => infoMemoryByNode(redis));
  const nodes = cluster.nodes.map((n) => `127.0.0.1:${n.port}`);
  // Different limits per master: each series must carry its own server's.
  await Promise.all(redis.nodes('master').map((n, i) => n.config('SET', 'maxmemory', String((64 + i) * 1024 * 1024))));
  const max = await byNode(registry, 'tierbook_redis_maxmemory_bytes');
  assert.deepEqual(Object.keys(max).sort(), [...nodes].sort());
  const limits = new Set(Object.values(max));
  assert.equal(limits.size, 3, `three different maxmemory values: ${JSON.stringify(max)}`);
  assert.deepEqual(await byNode(registry, 'tierbook_redis_up'), Object.fromEntries(nodes.map((n) => [n, 1])));

  // 8 MiB into one slot: only the master that holds it grows.
  const used = await byNode(registry, 'tierbook_redis_used_memory_bytes');
  const blob = 'x'.repeat(1024 * 1024);
  for (let i = 0; i < 8; i++) await redis.set(`{one-book}:blob:${i}`, blob);
  const slotOwner = await redis.cluster('KEYSLOT', '{one-book}:blob:0').then(async (slot) => {
    const slots = (await redis.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
    const range = slots.find(([lo, hi]) => Number(slot) >= lo && Number(slot) <= hi)!;
    return `127.0.0.1:${range[2][1]}`;
  });
  const grown = await byNode(registry, 'tierbook_redis_used_memory_bytes');
  for (const n of nodes) {
    const delta = grown[n]! - used[n]!;
    if (n === slotOwner) assert.ok(delta >= 8 * 1024 * 1024, `${n} holds the data: +${delta} bytes`);
    else assert.ok(delta < 1024 * 1024, `${n} does not hold it: +${delta} bytes`);
  }

  // One master stops: its up is 0 and its memory keeps its last value; the others still read.
  const victim = cluster.nodes.find((n) => `127.0.0.1:${n.port}` !== slotOwner)!;
  const victimNode = `127.0.0.1:${victim.port}`;
  await victim.stop();
  const up = await byNode(registry, 'tierbook_redis_up');
  assert.equal(up[victimNode], 0, JSON.stringify(up));
  assert.equal(up[slotOwner], 1, JSON.stringify(up));
  assert.equal((await byNode(registry, 'tierbook_redis_maxmemory_bytes'))[victimNode], max[victimNode], 'the last value is kept');
});
