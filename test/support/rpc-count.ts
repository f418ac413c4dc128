/**
 * Counts from a gateway's own metrics, for tests that must prove a call reached the gateway
 * and how it ended (a client-side status alone cannot tell "refused" from "never arrived").
 */
import type { RunningGateway } from '../../src/server/gateway-process.js';

/** Which calls to count: method as the metric labels it (e.g. 'OrderService/PlaceOrder'). */
export interface RpcFilter {
  method: string;
  /** gRPC status name, e.g. 'OK', 'CANCELLED'. */
  code?: string;
  tier?: string;
}

/** Finished unary calls matching the filter, from tierbook_rpc_duration_seconds_count. */
export function rpcCount(gateway: RunningGateway, f: RpcFilter): Promise<number> {
  const labels: Record<string, string> = { method: f.method };
  if (f.code) labels.code = f.code;
  if (f.tier) labels.tier = f.tier;
  return metricValue(gateway, 'tierbook_rpc_duration_seconds_count', labels);
}

/** One metric's summed value over the label sets that match `labels` (e.g. a pool's gauge). */
export async function metricValue(gateway: RunningGateway, name: string, labels: Record<string, string> = {}): Promise<number> {
  let n = 0;
  for (const part of await gateway.metrics.snapshot()) {
    for (const m of part) {
      for (const v of m.values) {
        const metricName = (v as { metricName?: string }).metricName ?? m.name;
        if (metricName !== name) continue;
        const l = v.labels as Record<string, string>;
        if (Object.entries(labels).every(([k, want]) => l[k] === want)) n += v.value;
      }
    }
  }
  return n;
}
