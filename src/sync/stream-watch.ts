import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../shared/config.js';
import { reapIdleConsumers } from './consumer-reaper.js';
import { trimStream } from './stream-trimmer.js';
import { sweepFinishedOrders } from './order-sweeper.js';
import type { SyncStats } from './sync-stats.js';

/**
 * One housekeeping pass over the event streams: trim each to what every group has
 * acknowledged, remove the book's finished orders whose events our group has committed and
 * whose retention is over, forget consumers long gone, warn about streams that grow (the sync
 * falling behind), and record the longest length and our group's pending count in `stats`.
 */
export async function watchStreams(redis: Redis, streams: readonly string[], sync: Config['sync'], orders: Config['orders'], stats: SyncStats, logger: Logger): Promise<void> {
  let longest = 0;
  let pending = 0;
  for (const stream of streams) {
    let s;
    try {
      s = await trimStream(redis, stream, sync.retainMs);
    } catch (err) {
      // A stream that vanished (Redis flushed) is found again by discovery; the others go on.
      logger.debug({ stream, err: (err as Error).message }, 'stream trim skipped');
      continue;
    }
    longest = Math.max(longest, s.length);
    const acked = s.ackedBeforeMs.get(sync.group);
    const symbol = /^\{bk:(.*)\}:events$/.exec(stream)?.[1];
    if (acked !== undefined && symbol !== undefined) {
      const removed = await sweepFinishedOrders(redis, symbol, acked, {
        retentionMs: orders.retentionMs, idempotencyWindowMs: orders.idempotencyWindowMs,
      });
      stats.ordersRetired += removed;
    }
    pending += s.pendingByGroup.get(sync.group) ?? 0;
    if (s.length > sync.warnLength) {
      logger.warn({ stream, length: s.length, pending: s.pending }, 'event stream is long: the sync is falling behind');
    }
    const gone = await reapIdleConsumers(redis, stream, sync.group, sync.consumer, sync.claimIdleMs * 10);
    if (gone.length) logger.info({ stream, consumers: gone }, 'removed idle consumers without pending entries');
  }
  stats.maxStreamLength = longest;
  stats.pending = pending;
}
