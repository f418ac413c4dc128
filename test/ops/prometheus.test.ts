/**
 * The metrics an operator reads, end to end: a real cluster whose Redis has a maxmemory,
 * its /metrics, and (below) Debian's Prometheus scraping it with deploy/prometheus/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOpsCluster, type OpsCluster } from './support/cluster.js';
import { parseSamples, total } from './support/prom-text.js';

const MAXMEMORY = 64 * 1024 * 1024;

let cluster: OpsCluster;
before(async () => {
  cluster = await startOpsCluster({ processes: 1, redisArgs: ['--maxmemory', String(MAXMEMORY)] });
});
after(async () => {
  await cluster?.stop();
});

test('/metrics shows Redis used memory and maxmemory, and used memory follows what is stored', async () => {
  const scrape = async () => parseSamples(await cluster.metricsText());
  const first = await scrape();
  assert.equal(total(first, 'tierbook_redis_up'), 1);
  assert.equal(total(first, 'tierbook_redis_maxmemory_bytes'), MAXMEMORY);
  const used = total(first, 'tierbook_redis_used_memory_bytes');
  // An almost empty Redis uses about a megabyte; it is far from the limit.
  assert.ok(used > 200_000 && used < MAXMEMORY / 4, `used_memory ${used}`);

  // 8 MiB more data must show as at least 8 MiB more used memory on the next scrape.
  const blob = 'x'.repeat(1024 * 1024);
  for (let i = 0; i < 8; i++) await cluster.redis.set(`test:blob:${i}`, blob);
  const after8 = total(await scrape(), 'tierbook_redis_used_memory_bytes');
  assert.ok(after8 - used >= 8 * 1024 * 1024, `used_memory ${used} -> ${after8}`);
  await cluster.redis.del(...Array.from({ length: 8 }, (_, i) => `test:blob:${i}`));
});
