import { status } from '@grpc/grpc-js';
import { poolOf, type TierName } from '../../domain/tiers.js';

/**
 * The latency promises, and the bucket edges that make them answerable from a histogram.
 *
 * Two objectives per pool, the same ones the load tests judge (loadtest/sla.ts): our own
 * `target` (premium 5 ms, shared 10 ms) and the `seed` promise (premium 50 ms, shared 100 ms).
 * Each threshold is a bucket edge, so `le="0.005"` etc. count exactly the calls within it
 * instead of being interpolated by histogram_quantile.
 */
export const SLA_SECONDS = {
  target: { premium: 0.005, shared: 0.01 },
  seed: { premium: 0.05, shared: 0.1 },
} as const;

export type SlaObjective = keyof typeof SLA_SECONDS;
export const SLA_OBJECTIVES = Object.keys(SLA_SECONDS) as SlaObjective[];

/**
 * RPC latency buckets, seconds; 0.005, 0.01, 0.05 and 0.1 are the SLA thresholds, and 2 is
 * the bound of the slow-order alert (TierbookOrdersSlow), so its p99 is exact at the edge.
 */
export const RPC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10];

/**
 * Codes that break the promise whatever the latency: the server failed to answer usefully.
 * A fast INVALID_ARGUMENT or NOT_FOUND is a kept promise (the client got its answer); a fast
 * RESOURCE_EXHAUSTED from a full tier queue is not.
 */
const SERVER_FAULTS = new Set<number>([
  status.UNKNOWN,
  status.DEADLINE_EXCEEDED,
  status.RESOURCE_EXHAUSTED,
  status.INTERNAL,
  status.UNAVAILABLE,
  status.DATA_LOSS,
]);

/** Whether a finished call met an objective's latency bound for its tier. */
export function metSla(objective: SlaObjective, tier: TierName, code: number, seconds: number): boolean {
  return !SERVER_FAULTS.has(code) && seconds <= SLA_SECONDS[objective][poolOf(tier)];
}

/** The gRPC status name for a numeric code ("OK", "NOT_FOUND"), as metrics and logs label it. */
export function codeName(code: number): string {
  return (status as unknown as Record<number, string>)[code] ?? String(code);
}

/** "/tierbook.v1.OrderService/PlaceOrder" -> "OrderService/PlaceOrder": short, still unique. */
export function methodLabel(path: string): string {
  const slash = path.lastIndexOf('/');
  const svc = path.slice(1, slash);
  return `${svc.slice(svc.lastIndexOf('.') + 1)}/${path.slice(slash + 1)}`;
}
