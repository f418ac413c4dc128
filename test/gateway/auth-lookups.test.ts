/**
 * Auth lookups that miss the gateway's in-process cache are shared and batched: concurrent
 * calls with one new key make one Redis lookup, the new keys of one burst reach Redis as one
 * pipeline (one read per node, counted by Redis itself) and, when Redis lost them, Postgres as
 * one query; a wrong key in a burst is still refused on its own, and a failed lookup is not
 * remembered. Real Redis (or a Redis Cluster in the cluster leg) and real Postgres.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata } from '@grpc/grpc-js';
import postgres, { type Sql } from 'postgres';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { ListOrdersRequestSchema, ListOrdersResponseSchema, OrderService } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { ApiError } from '../../src/domain/errors.js';
import { Authenticator } from '../../src/server/authenticator.js';
import { authKey, createAccount, hashApiKey, revokeApiKeys } from '../../src/shared/accounts-store.js';
import { createRedis, masters } from '../../src/shared/redis.js';
import { freePort } from '../../src/devstack/ports.js';
import { callError, TestClient } from '../support/grpc-client.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { startSwitchableRedis, type SwitchableRedis } from '../support/test-redis.js';

let stack: TestStack;
/** A Redis only this file's Authenticators use, so its counters see nothing else. */
let quiet: SwitchableRedis;
let quietRedis: Redis;
let authRedis: Redis;
/** The Authenticators' Postgres client; counts the queries it sends. */
let authSql: Sql;
let queries = 0;
const logger = pino({ level: 'silent' });

before(async () => {
  [stack, quiet] = await Promise.all([startTestStack({ withoutNginx: true }), startSwitchableRedis()]);
  quietRedis = createRedis(quiet.url);
  authRedis = createRedis(quiet.url);
  authSql = postgres(stack.config.databaseUrl, { max: 2, onnotice: () => {}, debug: (_conn: number, query: string) => void (/FROM api_keys/.test(query) && queries++) });
  // Connected to every node before anything is counted (a cluster client connects lazily).
  await Promise.all((await masters(authRedis)).map((n) => n.ping()));
});
after(async () => {
  quietRedis?.disconnect();
  authRedis?.disconnect();
  await authSql?.end({ timeout: 2 });
  await Promise.all([stack?.stop(), quiet?.stop()]);
});

function bearer(apiKey: string): Metadata {
  const md = new Metadata();
  md.set('authorization', `Bearer ${apiKey}`);
  return md;
}

async function newKeys(n: number, redis: Redis = quietRedis): Promise<{ accountId: string; apiKey: string }[]> {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await createAccount(stack.sql, redis, { name: `burst-${i}`, tier: 'PRO' }));
  return out;
}

/** Summed over every master of the quiet Redis: HGETALL calls and socket read events. */
async function redisCounters(): Promise<{ hgetall: number; reads: number; nodes: number }> {
  let hgetall = 0;
  let reads = 0;
  const nodes = await masters(quietRedis);
  for (const node of nodes) {
    const info = (await node.info('all')) as string;
    hgetall += Number(/cmdstat_hgetall:calls=(\d+)/.exec(info)?.[1] ?? 0);
    reads += Number(/total_reads_processed:(\d+)/.exec(info)![1]);
  }
  return { hgetall, reads, nodes: nodes.length };
}

test('50 concurrent calls with one new key make one Redis lookup, and the key is cached after', async () => {
  const [acct] = await newKeys(1);
  const auth = new Authenticator({ redis: authRedis, sql: authSql, cacheMs: 60_000, logger });
  const before = await redisCounters();
  const got = await Promise.all(Array.from({ length: 50 }, () => auth.authenticate(bearer(acct!.apiKey))));
  assert.ok(got.every((p) => p.accountId === acct!.accountId && p.tier === 'PRO'));
  await auth.authenticate(bearer(acct!.apiKey));
  assert.equal((await redisCounters()).hgetall - before.hgetall, 1);
});

test('the new keys of one burst go to Redis as one pipeline: one read per node, each key its own answer', async () => {
  const accts = await newKeys(100);
  const auth = new Authenticator({ redis: authRedis, sql: authSql, cacheMs: 60_000, logger });
  const before = await redisCounters();
  const queriesBefore = queries;
  const got = await Promise.all(accts.slice(1).map((a) => auth.authenticate(bearer(a.apiKey))));
  const after = await redisCounters();
  assert.deepEqual(got.map((p) => p.accountId), accts.slice(1).map((a) => a.accountId));
  assert.equal(after.hgetall - before.hgetall, 99);
  // Reads Redis made: the burst's, plus one per node for the INFO that measured them. Sent
  // one command per write, 99 commands take many reads (measured: dozens on one Redis).
  const burstReads = after.reads - before.reads - after.nodes;
  assert.ok(burstReads <= after.nodes, `${burstReads} read events for a 99-key burst on ${after.nodes} node(s)`);
  assert.equal(queries, queriesBefore, 'Redis had every key: no Postgres query');
});

test('a wrong key in a burst of new keys is refused UNAUTHENTICATED with its message; the others are served', async () => {
  const accts = await newKeys(20, stack.redis);
  const clients = [...accts.map((a) => new TestClient(stack.gatewayTarget, a.apiKey)), new TestClient(stack.gatewayTarget, 'tb_not-a-key')];
  try {
    const outcomes = await Promise.all(clients.map((c) =>
      c.unary(OrderService, 'ListOrders', ListOrdersRequestSchema, ListOrdersResponseSchema, {}).then(() => 'OK', (err: unknown) => {
        const e = callError(err);
        return `${e.code} ${e.reason} ${e.message}`;
      })));
    assert.deepEqual(outcomes, [...accts.map(() => 'OK'), '16 INVALID_API_KEY the API key is not valid']);
  } finally {
    for (const c of clients) c.close();
  }
});

test('keys Redis lost are read from Postgres in one query and put back; a revoked one stays refused', async () => {
  const accts = await newKeys(30);
  await revokeApiKeys(stack.sql, quietRedis, { apiKey: accts[29]!.apiKey });
  for (const a of accts) await quietRedis.del(authKey(hashApiKey(a.apiKey)));
  const auth = new Authenticator({ redis: authRedis, sql: authSql, cacheMs: 60_000, logger });
  const queriesBefore = queries;
  const outcomes = await Promise.all(accts.map((a) => auth.authenticate(bearer(a.apiKey)).then(
    (p) => p.accountId,
    (e: ApiError) => `${e.reason} ${e.message}`)));
  assert.equal(queries - queriesBefore, 1, 'one Postgres query for the 30 keys');
  assert.deepEqual(outcomes, [...accts.slice(0, 29).map((a) => a.accountId), 'INVALID_API_KEY the API key is not valid']);
  for (const a of accts.slice(0, 29)) assert.equal(await quietRedis.hget(authKey(hashApiKey(a.apiKey)), 'account'), a.accountId);
  assert.equal(await quietRedis.exists(authKey(hashApiKey(accts[29]!.apiKey))), 0, 'a revoked key is not put back');
});

test('a failed lookup rejects every caller sharing it with BACKEND_UNAVAILABLE and is not remembered', async () => {
  const [acct] = await newKeys(1);
  const keyOfAcct = authKey(hashApiKey(acct!.apiKey));
  await quietRedis.del(keyOfAcct);
  const downSql = postgres(`postgres://tierbook@127.0.0.1:${await freePort()}/tierbook`, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    const auth = new Authenticator({ redis: authRedis, sql: downSql, cacheMs: 60_000, logger });
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => auth.authenticate(bearer(acct!.apiKey)).then(
      () => 'served',
      (e: ApiError) => `${e.reason} ${e.message}`)));
    assert.deepEqual(new Set(outcomes), new Set(['BACKEND_UNAVAILABLE authentication is temporarily unavailable']));
    await quietRedis.hset(keyOfAcct, 'account', acct!.accountId, 'tier', 'PRO');
    assert.equal((await auth.authenticate(bearer(acct!.apiKey))).accountId, acct!.accountId, 'the next call asks again');
  } finally {
    await downSql.end({ timeout: 1 });
  }
});
