/**
 * With tracing on, a call's span carries its per-stage durations (call-stages.ts) as
 * attributes, exactly as the stage histograms see them; a call that never reached a worker
 * thread has none. The tracer runs with the real SDK and an in-memory exporter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startCallTracer } from '../../src/server/metrics/call-tracer.js';
import { callStages } from '../../src/server/metrics/call-stages.js';

/** Keeps its spans after shutdown (the SDK's exporter forgets them), so the drain's flush is read. */
class KeptSpans extends InMemorySpanExporter {
  override shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

test("a traced call's span has its stage durations as attributes, in ms", async () => {
  const exporter = new KeptSpans();
  const tracer = await startCallTracer({ exporter: 'otlp', endpoint: 'http://127.0.0.1:9/unused' }, pino({ level: 'silent' }), 'gateway-0', { exporter });
  // Stamps of one call (ms): admitted after 0.4, queued at 0.5, on the thread 1.25 .. 3.0
  // of which 1.0 in Redis, answered at 3.5.
  const t0 = 1_000_000;
  const stages = callStages(
    { receivedAt: t0, admittedAt: t0 + 0.4, queuedAt: t0 + 0.5, answeredAt: t0 + 3.5 },
    { startedAt: t0 + 1.25, finishedAt: t0 + 3, redisMs: 1 },
  );
  tracer.record({ method: '/tierbook.v1.OrderService/PlaceOrder', code: 0, seconds: 0.0035, requestId: 'r-1', stages });
  // Refused before the pool (rate limit): no stages.
  tracer.record({ method: '/tierbook.v1.OrderService/PlaceOrder', code: 8, seconds: 0.0002, requestId: 'r-2', reason: 'RATE_LIMITED' });
  await tracer.shutdown();

  const spans = exporter.getFinishedSpans();
  const byRequest = new Map<unknown, ReadableSpan>(spans.map((s) => [s.attributes['tierbook.request_id'], s]));
  const stageAttrs = (s: ReadableSpan) => Object.fromEntries(Object.entries(s.attributes).filter(([k]) => k.startsWith('tierbook.stage.')));
  assert.deepEqual(stageAttrs(byRequest.get('r-1')!), {
    'tierbook.stage.admission_ms': 0.4,
    'tierbook.stage.pool_wait_ms': 0.75,
    'tierbook.stage.decode_logic_encode_ms': 0.75,
    'tierbook.stage.redis_ms': 1,
    'tierbook.stage.reply_ms': 0.5,
  });
  assert.deepEqual(stageAttrs(byRequest.get('r-2')!), {});
  assert.equal(byRequest.get('r-2')!.attributes['tierbook.reason'], 'RATE_LIMITED');
});
