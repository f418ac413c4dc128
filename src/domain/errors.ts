/**
 * The one catalogue of errors a client can see. Each reason has a fixed gRPC status code, so a
 * reason always means the same thing wherever it is raised, and clients can switch on it.
 * The gateway sends `reason` in a google.rpc.ErrorInfo (domain "tierbook.v1") inside
 * `grpc-status-details-bin`, with `message` as the readable status details.
 */

/** gRPC status codes we use (numeric values from the gRPC spec). */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
export type CodeValue = (typeof Code)[keyof typeof Code];

/** Every reason we send, with its code. Add new reasons here, never inline elsewhere. */
export const Reasons = {
  // Authentication and authorization.
  MISSING_CREDENTIALS: Code.UNAUTHENTICATED,
  INVALID_API_KEY: Code.UNAUTHENTICATED,
  PREMIUM_ENDPOINT_ONLY: Code.PERMISSION_DENIED,
  // Malformed or invalid requests.
  MALFORMED_REQUEST: Code.INVALID_ARGUMENT,
  INVALID_FIELD: Code.INVALID_ARGUMENT,
  UNKNOWN_SYMBOL: Code.INVALID_ARGUMENT,
  PRICE_OFF_TICK: Code.INVALID_ARGUMENT,
  QUANTITY_OFF_LOT: Code.INVALID_ARGUMENT,
  INVALID_PAGE_TOKEN: Code.INVALID_ARGUMENT,
  BATCH_TOO_LARGE: Code.INVALID_ARGUMENT,
  MESSAGE_TOO_LARGE: Code.RESOURCE_EXHAUSTED,
  // Risk checks.
  PRICE_OUT_OF_BAND: Code.FAILED_PRECONDITION,
  QUANTITY_OUT_OF_RANGE: Code.INVALID_ARGUMENT,
  NOTIONAL_LIMIT_EXCEEDED: Code.FAILED_PRECONDITION,
  POSITION_LIMIT_EXCEEDED: Code.FAILED_PRECONDITION,
  NO_LIQUIDITY: Code.FAILED_PRECONDITION,
  // Order state.
  ORDER_NOT_FOUND: Code.NOT_FOUND,
  ORDER_NOT_WORKING: Code.FAILED_PRECONDITION,
  DUPLICATE_CLIENT_ORDER_ID: Code.ALREADY_EXISTS,
  POST_ONLY_WOULD_TAKE: Code.FAILED_PRECONDITION,
  // Capacity and protection.
  RATE_LIMITED: Code.RESOURCE_EXHAUSTED,
  TIER_QUEUE_FULL: Code.RESOURCE_EXHAUSTED,
  TOO_MANY_STREAMS: Code.RESOURCE_EXHAUSTED,
  STREAM_TOO_SLOW: Code.RESOURCE_EXHAUSTED,
  DEADLINE_PASSED: Code.DEADLINE_EXCEEDED,
  CALL_CANCELLED: Code.CANCELLED,
  QUERY_TIMEOUT: Code.DEADLINE_EXCEEDED,
  SHUTTING_DOWN: Code.UNAVAILABLE,
  SYNC_BEHIND: Code.UNAVAILABLE,
  BACKEND_UNAVAILABLE: Code.UNAVAILABLE,
  // Everything else.
  NOT_IMPLEMENTED: Code.UNIMPLEMENTED,
  INTERNAL: Code.INTERNAL,
} as const satisfies Record<string, CodeValue>;
export type Reason = keyof typeof Reasons;

export const ERROR_DOMAIN = 'tierbook.v1';

/**
 * The stable `status_reason` of a finished order (Order.status_reason, events' `reason`):
 * why it was CANCELED, EXPIRED or REJECTED. Written by the matching scripts.
 */
export const ORDER_STATUS_REASONS = [
  'CANCELED_BY_OWNER', // CancelOrder
  'SELF_TRADE_PREVENTED', // self-trade prevention canceled it
  'POST_ONLY_WOULD_TAKE', // REJECTED: a post-only order would have taken liquidity
  'NO_LIQUIDITY', // EXPIRED: IOC, FOK or MARKET rest found nothing (more) to trade with
] as const;
export type OrderStatusReason = (typeof ORDER_STATUS_REASONS)[number];

/**
 * An error meant for the client. Anything thrown that is not an ApiError is wrapped once, at
 * the edge, as INTERNAL; its cause is logged and never sent.
 */
export class ApiError extends Error {
  readonly code: CodeValue;
  constructor(
    readonly reason: Reason,
    message: string,
    readonly metadata: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.code = Reasons[reason];
  }
}

/** The plain shape an ApiError takes to cross a thread boundary (structured clone). */
export interface WireError {
  code: CodeValue;
  reason: Reason;
  message: string;
  metadata: Record<string, string>;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof ApiError) {
    return { code: err.code, reason: err.reason, message: err.message, metadata: err.metadata };
  }
  return { code: Code.INTERNAL, reason: 'INTERNAL', message: 'internal error', metadata: {} };
}
