/**
 * Per-call logs: a real gateway with its logger captured. A call's line carries request id,
 * method, tier, account, status and latency (and the caller's W3C trace context when it sent
 * one); the API key appears nowhere in any line.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { Sql } from 'postgres';
import type { Redis } from 'ioredis';
import { loadConfig } from '../../src/shared/config.js';
import { createLogger } from '../../src/shared/logger.js';
import { createSql } from '../../src/shared/postgres.js';
import { createRedis } from '../../src/shared/redis.js';
import { createAccount } from '../../src/shared/accounts-store.js';
import { migrate } from '../../src/sync/migrate.js';
import { startGateway, type RunningGateway } from '../../src/server/gateway-process.js';
import { callLogger } from '../../src/server/metrics/call-log.js';
import { GetOrderRequestSchema, GetOrderResponseSchema, OrderService, PlaceOrderRequestSchema, PlaceOrderResponseSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { expectError, TestClient } from '../support/grpc-client.js';
import { startTestPostgres, startTestRedis, type TestServer } from '../support/servers.js';
import { restingOrder } from './support/load.js';

const lines: Record<string, unknown>[] = [];
const raw: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const l of chunk.toString().split('\n').filter(Boolean)) {
      raw.push(l);
      lines.push(JSON.parse(l) as Record<string, unknown>);
    }
    done();
  },
});

let servers: TestServer[] = [];
let sql: Sql;
let redis: Redis;
let gateway: RunningGateway;
before(async () => {
  servers = await Promise.all([startTestRedis(), startTestPostgres()]);
  const config = loadConfig({
    TIERBOOK_REDIS_URL: servers[0]!.url,
    TIERBOOK_DATABASE_URL: servers[1]!.url,
    TIERBOOK_LOG_LEVEL: 'info',
    TIERBOOK_CALL_LOG_SAMPLE: '1',
    TIERBOOK_PREMIUM_THREADS: '1',
    TIERBOOK_SHARED_THREADS: '1',
  });
  sql = createSql(config.databaseUrl, { max: 2 });
  redis = createRedis(config.redisUrl);
  await migrate(sql);
  gateway = await startGateway(config, createLogger(config, { role: 'gateway' }, sink), 0);
});
after(async () => {
  await gateway?.shutdown();
  redis?.disconnect();
  await sql?.end({ timeout: 2 });
  await Promise.all(servers.map((s) => s.stop()));
});

test("a call's log line has request id, method, tier, account, status and latency, and no key", async () => {
  const acct = await createAccount(sql, redis, { name: 'log-test', tier: 'PRO' });
  const client = new TestClient(`127.0.0.1:${gateway.port}`, acct.apiKey);
  await client.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, restingOrder('log-1', 0));
  await expectError(client.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, { orderId: 'nope' }));
  client.close();
  await new Promise((r) => setTimeout(r, 50));

  const calls = lines.filter((l) => l.module === 'rpc');
  const placed = calls.find((l) => l.method === '/tierbook.v1.OrderService/PlaceOrder');
  assert.ok(placed, 'the PlaceOrder call was logged');
  assert.match(String(placed.requestId), /^[0-9a-f-]{36}$/);
  assert.equal(placed.tier, 'PRO');
  assert.equal(placed.account, acct.accountId);
  assert.equal(placed.status, 'OK');
  assert.equal(placed.code, 0);
  assert.equal(typeof placed.latencyMs, 'number');
  const missing = calls.find((l) => l.method === '/tierbook.v1.OrderService/GetOrder');
  assert.equal(missing?.status, 'NOT_FOUND');
  assert.equal(typeof missing?.reason, 'string');
  // The key never appears, in any line, in any form we hold.
  assert.ok(raw.length > 0);
  for (const l of raw) assert.ok(!l.includes(acct.apiKey), `a log line holds the API key: ${l}`);
});

test('a call that carries a W3C traceparent has its trace id and parent span id on its line', async () => {
  const acct = await createAccount(sql, redis, { name: 'trace-test', tier: 'ELITE' });
  /** A client that sends `traceparent` (as an OpenTelemetry-instrumented caller does). */
  class TracedClient extends TestClient {
    constructor(private readonly traceparent: string) {
      super(`127.0.0.1:${gateway.port}`, acct.apiKey);
    }
    override metadata() {
      const md = super.metadata();
      md.set('traceparent', this.traceparent);
      return md;
    }
  }
  const get = (c: TestClient, id: string) => expectError(c.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, { orderId: id }));
  const traced = new TracedClient('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
  const malformed = new TracedClient('00-NOT-A-TRACE-01');
  const plain = new TestClient(`127.0.0.1:${gateway.port}`, acct.apiKey);
  await get(traced, 'traced-1');
  await get(malformed, 'malformed-1');
  await get(plain, 'plain-1');
  for (const c of [traced, malformed, plain]) c.close();
  await new Promise((r) => setTimeout(r, 50));

  const calls = lines.filter((l) => l.module === 'rpc' && l.account === acct.accountId);
  assert.equal(calls.length, 3);
  const [t, m, p] = calls;
  assert.equal(t!.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(t!.parentId, '00f067aa0ba902b7');
  // A malformed header is not repeated into the logs; a call without one has no trace fields.
  for (const l of [m!, p!]) assert.deepEqual([l.traceId, l.parentId], [undefined, undefined]);
  assert.ok(!raw.some((l) => l.includes('NOT-A-TRACE')));
});

test('at info, only the sampled share of successful calls is logged; faults always are', () => {
  const out: Record<string, unknown>[] = [];
  const logger = createLogger({ logLevel: 'info', logPretty: false }, {}, { write: (s: string) => void out.push(JSON.parse(s)) });
  let coin = 0;
  const log = callLogger(logger, 0.25, () => [0.1, 0.5, 0.9, 0.3][coin++ % 4]!);
  const call = { method: '/m', code: 0, seconds: 0.001, requestId: 'r' };
  for (let i = 0; i < 4; i++) log(call);
  assert.equal(out.length, 1, 'one call in four');
  log({ ...call, code: 13, reason: 'INTERNAL' });
  assert.equal(out.at(-1)?.level, 40, 'INTERNAL is logged at warn whatever the sample');
});
