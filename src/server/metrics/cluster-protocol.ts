import type { MetricsJson } from '../../workers/metrics-bridge.js';

/**
 * The primary <-> gateway process messages for metrics (cluster IPC). Our own rather than
 * prom-client's `AggregatorRegistry.clusterMetrics()`, which fails the whole scrape when one
 * process is slow to answer and forgets a process's counters when it exits.
 */
export const METRICS_REQUEST = 'tierbook:metrics-request';
export const METRICS_RESPONSE = 'tierbook:metrics-response';
/** Sent unasked by a draining process: its last counters. */
export const METRICS_FINAL = 'tierbook:metrics-final';

export interface MetricsRequest {
  type: typeof METRICS_REQUEST;
  id: number;
}

export interface MetricsResponse {
  type: typeof METRICS_RESPONSE;
  id: number;
  parts: MetricsJson[];
}

export interface MetricsFinal {
  type: typeof METRICS_FINAL;
  parts: MetricsJson[];
}
