import type { Logger } from 'pino';
import { status } from '@grpc/grpc-js';
import type { Principal } from '../../shared/accounts-store.js';
import { codeName } from './sla.js';
import type { Stage } from './call-stages.js';
import { parseTraceparent } from './trace-context.js';

/** What a finished unary call reports (UnaryDeps.onDone). */
export interface CallRecord {
  method: string;
  principal?: Principal;
  code: number;
  seconds: number;
  requestId: string;
  reason?: string;
  /** Seconds per stage, for calls that ran on a worker thread (call-stages.ts). */
  stages?: Record<Stage, number>;
  /** The call's request metadata (grpc-js `Metadata`); read only when the line is written. */
  metadata?: { get(key: string): unknown[] };
}

/** Server faults are always logged: an operator needs every one of them. */
const ALWAYS = new Set<number>([status.UNKNOWN, status.INTERNAL, status.UNAVAILABLE, status.DATA_LOSS]);

/**
 * The per-call log line: request id, method, tier, account, status (name and code), error
 * reason, latency. Never the API key: the gateway only ever holds its hash, and only the
 * principal (account, tier) reaches here. A call that carries a W3C `traceparent` gets its
 * `traceId` and `parentId` (the caller's span) on the line, so the caller's trace finds it;
 * the header is parsed only for calls that are logged.
 *
 * Volume is the concern at 10k calls/s: at `debug` every call is logged; at `info` a
 * `sample` share of calls (TIERBOOK_CALL_LOG_SAMPLE, 0..1) is; server faults are logged at
 * `warn` whatever the level or sample.
 */
export function callLogger(logger: Logger, sample: number, random: () => number = Math.random): (c: CallRecord) => void {
  const log = logger.child({ module: 'rpc' });
  return (c) => {
    const fault = ALWAYS.has(c.code);
    const debug = log.isLevelEnabled('debug');
    if (!fault && !debug && !(sample > 0 && random() < sample)) return;
    const line = {
      requestId: c.requestId,
      method: c.method,
      tier: c.principal?.tier,
      account: c.principal?.accountId,
      status: codeName(c.code),
      code: c.code,
      reason: c.reason,
      latencyMs: Math.round(c.seconds * 1e6) / 1e3,
      ...traceFields(c.metadata),
    };
    if (fault) log.warn(line, 'call failed');
    else if (debug) log.debug(line, 'call');
    else log.info(line, 'call');
  };
}

function traceFields(metadata: CallRecord['metadata']): { traceId?: string; parentId?: string } {
  const trace = parseTraceparent(metadata?.get('traceparent')[0]);
  return trace ? { traceId: trace.traceId, parentId: trace.parentId } : {};
}
