import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { loadConfig } from '../../src/shared/config.js';
import { clusterSeeds } from '../../src/shared/redis.js';
import { portsByRole, roleOf } from '../../src/shared/gateway-layout.js';

test('defaults are filled in and the config is frozen', () => {
  const c = loadConfig({});
  assert.equal(c.nginxPort, 50051);
  assert.equal(c.gateway.basePort, 50061);
  assert.ok(c.pools.premium.threads >= 1 && c.pools.shared.threads >= 1);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.pools.premium));
  assert.throws(() => {
    (c as { nginxPort: number }).nginxPort = 1;
  }, TypeError);
});

test('a bad value is refused with a message that names the option and the value', () => {
  assert.throws(() => loadConfig({ TIERBOOK_PREMIUM_THREADS: 'x' }), /TIERBOOK_PREMIUM_THREADS must be an integer, got "x"/);
  assert.throws(() => loadConfig({ TIERBOOK_SHARED_QUEUE: '-5' }), /TIERBOOK_SHARED_QUEUE must be between 0 and/);
  assert.throws(() => loadConfig({ TIERBOOK_REDIS_URL: 'http://x' }), /TIERBOOK_REDIS_URL must use redis: or rediss:/);
  assert.throws(() => loadConfig({ TIERBOOK_LOG_LEVEL: 'loud' }), /TIERBOOK_LOG_LEVEL must be one of/);
});

test('values from the environment override the defaults', () => {
  const c = loadConfig({ TIERBOOK_PREMIUM_QUEUE: '7', TIERBOOK_GATEWAY_PROCESSES: '3' });
  assert.equal(c.pools.premium.queue, 7);
  assert.equal(c.gateway.processes, 3);
});

test('by default one gateway process per core but one, and always one more than the premium-only ones', () => {
  const cores = availableParallelism();
  assert.equal(loadConfig({}).gateway.processes, Math.max(1, cores - 1));
  // Premium-only processes alone do not make the config invalid: the default grows past them.
  const premium = loadConfig({ TIERBOOK_PREMIUM_GATEWAY_PROCESSES: String(cores) });
  assert.equal(premium.gateway.processes, cores + 1);
  assert.deepEqual(portsByRole(premium).general, [50061 + cores]);
});

test('premium-only gateway processes leave at least one process for LITE and PRO', () => {
  const c = loadConfig({ TIERBOOK_GATEWAY_PROCESSES: '3', TIERBOOK_PREMIUM_GATEWAY_PROCESSES: '1' });
  assert.equal(c.gateway.premiumProcesses, 1);
  // The first process is premium-only; nginx gets its port in the premium group, the rest in the main one.
  assert.deepEqual([0, 1, 2].map((i) => roleOf(c, i)), ['premium', 'general', 'general']);
  assert.deepEqual(portsByRole(c), { premium: [50061], general: [50062, 50063] });
  assert.deepEqual(portsByRole(loadConfig({ TIERBOOK_GATEWAY_PROCESSES: '2' })), { premium: [], general: [50061, 50062] });
  assert.throws(
    () => loadConfig({ TIERBOOK_GATEWAY_PROCESSES: '2', TIERBOOK_PREMIUM_GATEWAY_PROCESSES: '2' }),
    /TIERBOOK_PREMIUM_GATEWAY_PROCESSES must be less than TIERBOOK_GATEWAY_PROCESSES/,
  );
});

test('TIERBOOK_REDIS_URL names one Redis or a Redis Cluster by its seed nodes', () => {
  const url = 'redis-cluster://127.0.0.1:56380,127.0.0.1:56381,127.0.0.1:56382';
  assert.equal(loadConfig({ TIERBOOK_REDIS_URL: url }).redisUrl, url);
  assert.deepEqual(clusterSeeds(url)?.map((s) => s.port), [56380, 56381, 56382]);
  assert.equal(clusterSeeds('redis://127.0.0.1:56379'), undefined);
  assert.throws(() => loadConfig({ TIERBOOK_REDIS_URL: 'redis-cluster://127.0.0.1' }), /TIERBOOK_REDIS_URL: not host:port in a redis-cluster URL: "127.0.0.1"/);
  assert.throws(() => loadConfig({ TIERBOOK_REDIS_URL: 'redis-cluster://' }), /TIERBOOK_REDIS_URL: a redis-cluster URL names no node/);
});
