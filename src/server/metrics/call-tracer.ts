import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { CallRecord } from './call-log.js';
import { codeName } from './sla.js';
import { parseTraceparent } from './trace-context.js';

/** Where spans go: OTLP over HTTP (a collector, Jaeger, Tempo...) or stdout (debugging). */
export interface TracingConfig {
  exporter: 'off' | 'otlp' | 'console';
  /** OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces. */
  endpoint: string;
}

/** Records one span per finished call. */
export interface CallTracer {
  record(c: CallRecord): void;
  /** Exports what is buffered and stops (the drain calls it). */
  shutdown(): Promise<void>;
}

/**
 * The call's stages (call-stages.ts) as span attributes, in milliseconds (µs precision):
 * `tierbook.stage.admission_ms`, `.pool_wait_ms`, `.decode_logic_encode_ms`, `.redis_ms`,
 * `.reply_ms`. `total` is the span's own duration. None for a call that never reached a
 * worker thread (refused in admission).
 */
function stageAttributes(stages: CallRecord['stages']): Record<string, number> {
  if (!stages) return {};
  const out: Record<string, number> = {};
  for (const [stage, seconds] of Object.entries(stages)) {
    if (stage !== 'total') out[`tierbook.stage.${stage}_ms`] = Math.round(seconds * 1e6) / 1e3;
  }
  return out;
}

/** gRPC codes that make a server span an error (OpenTelemetry's gRPC semantic conventions). */
const SERVER_ERRORS = new Set([2, 4, 12, 13, 14, 15]);

/**
 * An OpenTelemetry tracer for the gateway's calls, started only when TIERBOOK_OTEL_EXPORTER
 * is set: the SDK is imported here, on demand, so a gateway with tracing off loads none of
 * it and pays one `undefined` check per call (GatewayMetrics.onDone).
 *
 * Each finished call becomes a SERVER span named by its method, timed from the gateway's own
 * measurement, child of the caller's span when the call carried a valid `traceparent`
 * (parent-based sampling: a caller's "not sampled" is respected), with the call's per-stage
 * durations as attributes. Spans leave in batches (BatchSpanProcessor), off the call's path.
 * `opts.exporter` replaces the configured one (tests pass an in-memory exporter).
 */
export async function startCallTracer(config: TracingConfig, logger: Logger, processName: string, opts: { exporter?: SpanExporter } = {}): Promise<CallTracer> {
  const [api, sdk, resources] = await Promise.all([import('@opentelemetry/api'), import('@opentelemetry/sdk-trace-base'), import('@opentelemetry/resources')]);
  const exporter = opts.exporter ?? (config.exporter === 'otlp'
    ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter({ url: config.endpoint })
    : new sdk.ConsoleSpanExporter());
  const provider = new sdk.BasicTracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': 'tierbook', 'service.instance.id': processName }),
    sampler: new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() }),
    spanProcessors: [new sdk.BatchSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('tierbook-gateway');
  logger.info({ exporter: config.exporter, endpoint: config.exporter === 'otlp' ? config.endpoint : undefined }, 'tracing calls with OpenTelemetry');
  return {
    record(c) {
      const parent = parseTraceparent(c.metadata?.get('traceparent')[0]);
      const ctx = parent
        ? api.trace.setSpanContext(api.ROOT_CONTEXT, {
          traceId: parent.traceId,
          spanId: parent.parentId,
          traceFlags: parent.sampled ? api.TraceFlags.SAMPLED : api.TraceFlags.NONE,
          isRemote: true,
        })
        : api.ROOT_CONTEXT;
      const end = performance.timeOrigin + performance.now();
      const [service, method] = c.method.replace(/^\//, '').split('/');
      const span = tracer.startSpan(c.method.replace(/^\//, ''), {
        kind: api.SpanKind.SERVER,
        startTime: end - c.seconds * 1000,
        attributes: {
          'rpc.system': 'grpc',
          'rpc.service': service,
          'rpc.method': method,
          'rpc.grpc.status_code': c.code,
          'tierbook.request_id': c.requestId,
          ...(c.principal ? { 'tierbook.tier': c.principal.tier, 'tierbook.account': c.principal.accountId } : {}),
          ...(c.reason ? { 'tierbook.reason': c.reason } : {}),
          ...stageAttributes(c.stages),
        },
      }, ctx);
      if (SERVER_ERRORS.has(c.code)) span.setStatus({ code: api.SpanStatusCode.ERROR, message: codeName(c.code) });
      span.end(end);
    },
    shutdown: () => provider.shutdown(),
  };
}
