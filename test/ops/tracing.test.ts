/**
 * OpenTelemetry, on: a real gateway with TIERBOOK_OTEL_EXPORTER=otlp sends one SERVER span per
 * call over OTLP/HTTP (here to a tiny collector in the test), a child of the caller's span
 * when the call carried a traceparent, and none for a caller that said "not sampled".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/shared/config.js';
import { createLogger } from '../../src/shared/logger.js';
import { createSql } from '../../src/shared/postgres.js';
import { createRedis } from '../../src/shared/redis.js';
import { createAccount } from '../../src/shared/accounts-store.js';
import { migrate } from '../../src/sync/migrate.js';
import { startGateway } from '../../src/server/gateway-process.js';
import { GetOrderRequestSchema, GetOrderResponseSchema, OrderService } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { expectError, TestClient } from '../support/grpc-client.js';
import { startTestPostgres, startTestRedis } from '../support/servers.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number };
}

test('with tracing on, each call is a SERVER span in the caller\'s trace, exported over OTLP/HTTP', async (t) => {
  const bodies: unknown[] = [];
  const collector = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push({ path: req.url, type: req.headers['content-type'], body: JSON.parse(body) as unknown });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const servers = await Promise.all([startTestRedis(), startTestPostgres()]);
  const config = loadConfig({
    TIERBOOK_REDIS_URL: servers[0]!.url,
    TIERBOOK_DATABASE_URL: servers[1]!.url,
    TIERBOOK_LOG_LEVEL: 'warn',
    TIERBOOK_PREMIUM_THREADS: '1',
    TIERBOOK_SHARED_THREADS: '1',
    TIERBOOK_OTEL_EXPORTER: 'otlp',
    TIERBOOK_OTEL_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`,
  });
  const sql = createSql(config.databaseUrl, { max: 2 });
  const redis = createRedis(config.redisUrl);
  try {
    await migrate(sql);
    const gateway = await startGateway(config, createLogger(config, { role: 'gateway' }), 0, 'gateway-7');
    assert.ok(gateway.metrics.tracer, 'tracing is on');
    const acct = await createAccount(sql, redis, { name: 'otel', tier: 'BLACK' });
    const call = async (orderId: string, traceparent?: string) => {
      const c = new (class extends TestClient {
        override metadata() {
          const md = super.metadata();
          if (traceparent) md.set('traceparent', traceparent);
          return md;
        }
      })(`127.0.0.1:${gateway.port}`, acct.apiKey);
      await expectError(c.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, { orderId }));
      c.close();
    };
    await call('traced', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    await call('untraced');
    await call('unsampled', '00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-00');
    // The drain exports what the batch processor holds.
    await gateway.shutdown();

    assert.ok(bodies.length >= 1, 'the collector received spans');
    const spans = bodies.flatMap((b) => {
      const d = (b as { body: { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] } }).body;
      return d.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    });
    const attr = (s: OtlpSpan, k: string) => Object.values(s.attributes.find((a) => a.key === k)?.value ?? {})[0];
    for (const s of spans) t.diagnostic(`span ${s.name} trace ${s.traceId} parent ${s.parentSpanId ?? '-'} request ${attr(s, 'tierbook.request_id')} code ${attr(s, 'rpc.grpc.status_code')}`);
    assert.equal(spans.length, 2, 'the unsampled call has no span');
    const [traced, untraced] = spans;
    assert.equal(traced!.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(traced!.parentSpanId, '00f067aa0ba902b7');
    assert.equal(traced!.name, 'tierbook.v1.OrderService/GetOrder');
    assert.equal(traced!.kind, 2, 'SERVER');
    assert.equal(attr(traced!, 'rpc.grpc.status_code'), 5, 'NOT_FOUND');
    assert.equal(attr(traced!, 'tierbook.tier'), 'BLACK');
    assert.ok(BigInt(traced!.endTimeUnixNano) > BigInt(traced!.startTimeUnixNano));
    // The call ran on a worker thread: its stages are on the span, within its duration.
    const stageMs = ['admission', 'pool_wait', 'decode_logic_encode', 'redis', 'reply'].map((st) => Number(attr(traced!, `tierbook.stage.${st}_ms`)));
    t.diagnostic(`traced span stages (ms): ${stageMs.join(', ')}`);
    assert.ok(stageMs.every((ms) => Number.isFinite(ms) && ms >= 0), `every stage is on the span: ${stageMs}`);
    const spanMs = Number(BigInt(traced!.endTimeUnixNano) - BigInt(traced!.startTimeUnixNano)) / 1e6;
    assert.ok(stageMs.reduce((a, b) => a + b, 0) <= spanMs + 1, `the stages (${stageMs}) fit in the span (${spanMs} ms)`);
    // A call without a traceparent starts its own trace.
    assert.match(untraced!.traceId, /^[0-9a-f]{32}$/);
    assert.notEqual(untraced!.traceId, traced!.traceId);
    assert.ok(!untraced!.parentSpanId);
    const resource = (bodies[0] as { body: { resourceSpans: { resource: { attributes: { key: string; value: { stringValue: string } }[] } }[] } }).body.resourceSpans[0]!.resource;
    assert.equal(resource.attributes.find((a) => a.key === 'service.instance.id')?.value.stringValue, 'gateway-7');
  } finally {
    redis.disconnect();
    await sql.end({ timeout: 2 });
    await Promise.all(servers.map((s) => s.stop()));
    collector.close();
  }
});
