import { randomUUID } from 'node:crypto';
import type { handleUnaryCall, ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ApiError, toWireError } from '../domain/errors.js';
import type { Principal } from '../shared/accounts-store.js';
import type { Authenticator } from './authenticator.js';
import type { CallRecord } from './metrics/call-log.js';
import { toServiceError } from './status.js';
import type { TierPools } from './tier-pools.js';
import { callStages } from './metrics/call-stages.js';
import { nowMs } from '../workers/call-timing.js';
import { forwardedTraceparent } from './metrics/trace-context.js';
import type { CallResult, CallTask } from '../workers/task.js';

export interface UnaryDeps {
  auth: Authenticator;
  pools: TierPools;
  logger: Logger;
  /** Checks that run after authentication and before the pool (rate limits, admission). */
  admit?: (principal: Principal, method: string) => Promise<void>;
  /** Deadline (ms from now) for a call of this tier whose client set none (admission.ts). */
  tierDeadlineMs?: (tier: Principal['tier']) => number;
  /** Observes every finished call (metrics, logs). */
  onDone?: (info: CallRecord) => void;
}

function deadlineMs(call: ServerUnaryCall<Buffer, Buffer>): number {
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : Number(d);
  return Number.isFinite(ms) ? ms : 0;
}

/**
 * The gateway side of every unary RPC: authenticate, admit, hand the raw bytes to the tier's
 * pool, and send back the bytes or the error. Unknown failures become INTERNAL here, once;
 * their cause goes to the log only.
 */
export function unaryCall(method: string, deps: UnaryDeps): handleUnaryCall<Buffer, Buffer> {
  return (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
    const started = process.hrtime.bigint();
    const receivedAt = nowMs();
    let admittedAt = 0;
    let task: CallTask | undefined;
    let result: CallResult | undefined;
    let principal: Principal | undefined;
    const requestId = randomUUID();
    let answered = false;
    const finish = (code: number, reason?: string) => {
      answered = true;
      const stages = callStages({ receivedAt, admittedAt, queuedAt: task?.queuedAt ?? 0, answeredAt: nowMs() }, result?.timing);
      deps.onDone?.({ method, principal, code, seconds: Number(process.hrtime.bigint() - started) / 1e9, requestId, reason, stages, metadata: call.metadata });
    };

    const abort = new AbortController();
    // grpc-js may report a stream closing after the answer went out; only a call still
    // waiting is worth aborting (abort() builds a DOMException each time).
    call.on('cancelled', () => {
      if (!answered) abort.abort();
    });
    void (async () => {
      try {
        principal = await deps.auth.authenticate(call.metadata);
        await deps.admit?.(principal, method);
        admittedAt = nowMs();
        // A tier's default deadline counts from the call's arrival: time spent in authentication
        // and admission (a paused Redis, a rate-limit lease) is part of the client's wait.
        const deadline = deadlineMs(call) || (deps.tierDeadlineMs ? Math.floor(receivedAt) + deps.tierDeadlineMs(principal.tier) : 0);
        if (deadline > 0 && Date.now() >= deadline) {
          throw new ApiError('DEADLINE_PASSED', 'the call deadline passed before the call could run; it was not executed');
        }
        task = { method, accountId: principal.accountId, tier: principal.tier, payload: call.request, deadline, requestId };
        const traceparent = forwardedTraceparent(call.metadata);
        if (traceparent) task.traceparent = traceparent;
        result = await deps.pools.run(task, abort.signal);
        if (result.ok) {
          const p = result.payload;
          callback(null, Buffer.from(p.buffer, p.byteOffset, p.byteLength));
          finish(0);
        } else {
          callback(toServiceError(result.error));
          finish(result.error.code, result.error.reason);
        }
      } catch (err) {
        if (abort.signal.aborted) {
          // The client is gone; there is nobody to answer. The reason (CALL_CANCELLED when the
          // call was dropped before it ran) still reaches the metrics and the call log.
          finish(1, err instanceof ApiError ? err.reason : undefined);
          return;
        }
        if (!(err instanceof ApiError)) deps.logger.error({ err, method, requestId }, 'call failed');
        const wire = toWireError(err);
        callback(toServiceError(wire));
        finish(wire.code, wire.reason);
      }
    })();
  };
}
