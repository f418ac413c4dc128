import type { Redis } from 'ioredis';
import { isCluster } from './redis.js';

/**
 * How long a reader on a Redis Cluster waits before it polls its streams again when the last
 * round found nothing. A cluster refuses one XREAD over keys of different slots, and every
 * book's stream has its own slot, so there is no single blocking read over all books: each
 * round sends one non-blocking read per stream (ioredis routes each to its node) and sleeps
 * this long when all were empty. The cost: up to this much extra latency, and idle reads of
 * (streams / this interval) per second per reader.
 */
export const CLUSTER_POLL_MS = 10;

/** An XREAD/XREADGROUP reply: [stream, [id, fields][]][], or null when nothing came. */
export type StreamsReply = [string, [string, string[]][]][] | null;

/**
 * One read over several streams: `read(keys, ids, block)` issues the XREAD/XREADGROUP with
 * those STREAMS. On one Redis that is a single command blocking up to `blockMs`; on a cluster
 * it is one non-blocking command per stream, then a short sleep if every stream was empty.
 */
export async function readStreams(
  redis: Redis, keys: readonly string[], ids: readonly string[], blockMs: number | undefined,
  read: (keys: string[], ids: string[], blockMs: number | undefined) => Promise<unknown>,
): Promise<StreamsReply> {
  if (!isCluster(redis) || keys.length <= 1) return (await read([...keys], [...ids], blockMs)) as StreamsReply;
  // A master that is away fails only its own streams' reads: the books on the other masters
  // keep flowing. Only when every read failed does the caller hear of it (and retry).
  const settled = await Promise.allSettled(keys.map((k, i) => read([k], [ids[i]!], undefined) as Promise<StreamsReply>));
  const replies = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (replies.length === 0) throw (settled[0] as PromiseRejectedResult).reason;
  const merged = replies.flatMap((r) => r ?? []).filter(([, entries]) => entries.length > 0);
  if (merged.length > 0) return merged;
  if (blockMs !== undefined) await new Promise((r) => setTimeout(r, Math.min(blockMs, CLUSTER_POLL_MS)));
  return null;
}
