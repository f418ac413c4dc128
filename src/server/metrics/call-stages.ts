import type { WorkerTiming } from '../../workers/call-timing.js';

/**
 * The stages of one unary call, in seconds, in the order the call passes them:
 *
 *   admission  arrived in the gateway -> authenticated and admitted (auth, rate limit, checks)
 *   pool_wait  handed to its tier's pool -> started on a worker thread (micro-batch, queue, hop)
 *   decode_logic_encode  on the thread, minus its Redis time
 *   redis      the call's Redis commands, send to reply (summed)
 *   reply      finished on the thread -> answer handed to grpc-js (hop back, callback)
 *
 * `tierbook_call_stage_seconds{tier, stage}` has one histogram per stage (and `total`);
 * every load-test report shows p50 / p99 per stage from it (loadtest/stage-table.ts).
 */
export const STAGES = ['admission', 'pool_wait', 'decode_logic_encode', 'redis', 'reply', 'total'] as const;
export type Stage = (typeof STAGES)[number];

/** The gateway's stamps of a call (epoch ms, sub-ms precision, WorkerTiming's clock). */
export interface GatewayStamps {
  receivedAt: number;
  admittedAt: number;
  queuedAt: number;
  answeredAt: number;
}

/** Seconds per stage; undefined for a call that never reached a worker thread. */
export function callStages(g: GatewayStamps, w: WorkerTiming | undefined): Record<Stage, number> | undefined {
  if (!w || !g.queuedAt) return undefined;
  const s = (ms: number) => Math.max(0, ms) / 1000;
  const onThread = w.finishedAt - w.startedAt;
  return {
    admission: s(g.admittedAt - g.receivedAt),
    pool_wait: s(w.startedAt - g.queuedAt),
    decode_logic_encode: s(onThread - w.redisMs),
    redis: s(Math.min(w.redisMs, onThread)),
    reply: s(g.answeredAt - w.finishedAt),
    total: s(g.answeredAt - g.receivedAt),
  };
}
