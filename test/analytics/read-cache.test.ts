import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { loadConfig } from '../../src/shared/config.js';
import { createRedis } from '../../src/shared/redis.js';
import { ReadCache } from '../../src/workers/analytics/read-cache.js';
import { CacheStats } from '../../src/workers/analytics/cache-stats.js';
import { startTestRedis, type TestServer } from '../support/servers.js';

/**
 * The analytics cache's single-flight across processes: each ReadCache here has its own Redis
 * connection, as two gateway processes' worker threads do.
 */
describe('analytics read cache', () => {
  let server: TestServer;
  const clients: Redis[] = [];
  const config = loadConfig({});

  before(async () => {
    server = await startTestRedis();
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await server?.stop();
  });

  const cache = () => {
    const redis = createRedis(server.url);
    clients.push(redis);
    return new ReadCache(redis, config, new CacheStats());
  };

  test('concurrent misses for one key in different processes compute once and all get the result', async () => {
    const caches = [cache(), cache(), cache(), cache()];
    let computed = 0;
    const compute = async () => {
      computed++;
      await new Promise((r) => setTimeout(r, 100));
      return Uint8Array.from([7, 7, 7]);
    };
    const results = await Promise.all(caches.map((c) => c.account('ELITE', 'GetPortfolio', 'acc_1', '', compute)));
    assert.equal(computed, 1, 'one computation for four concurrent misses');
    for (const r of results) assert.deepEqual([...r], [7, 7, 7]);
    // And the next reader hits the stored entry.
    const again = await cache().account('ELITE', 'GetPortfolio', 'acc_1', '', compute);
    assert.deepEqual([...again], [7, 7, 7]);
    assert.equal(computed, 1);
  });

  test('a lock holder that never finishes does not block the others past the lock time', async () => {
    const [a, b] = [cache(), cache()];
    const stuck = a.account('ELITE', 'GetPortfolio', 'acc_2', '', () => new Promise<Uint8Array>(() => {}));
    void stuck;
    await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    const got = await b.account('ELITE', 'GetPortfolio', 'acc_2', '', async () => Uint8Array.from([1]));
    assert.deepEqual([...got], [1]);
    assert.ok(Date.now() - started < 3_000, 'the waiter computed itself once the lock time passed');
  });
});
