import type { WireError } from '../domain/errors.js';
import type { TierName } from '../domain/tiers.js';
import type { WorkerTiming } from './call-timing.js';

/**
 * One unary call handed from the gateway to a worker thread. The request stays as the raw
 * protobuf bytes the client sent: decoding happens in the worker, never on the event loop.
 */
export interface CallTask {
  /** The full gRPC method path, e.g. "/tierbook.v1.OrderService/PlaceOrder". */
  method: string;
  accountId: string;
  tier: TierName;
  payload: Uint8Array;
  /** Epoch ms after which the result is useless (the client's deadline); 0 for none. */
  deadline: number;
  /** For logs: the gateway's request id. */
  requestId: string;
  /** Shared with the gateway: [0] becomes 1 when the client cancels; checked before running. */
  cancelled?: Int32Array;
  /** The call's W3C traceparent, validated and normalized; absent when it carried none. */
  traceparent?: string;
  /** Epoch ms (sub-ms precision) when the gateway queued the call: the pool wait metric. */
  queuedAt?: number;
}

/**
 * The encoded response bytes, or the error to send, and where the thread's time went. Plain
 * data: it crosses a thread.
 */
export type CallResult = ({ ok: true; payload: Uint8Array } | { ok: false; error: WireError }) & { timing?: WorkerTiming };
