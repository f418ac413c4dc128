import type { Redis } from 'ioredis';
import { compareIds, entryTimeMs } from './stream-entry.js';

/** How one stream stands after a trim pass: what the watcher logs and reports. */
export interface StreamStatus {
  stream: string;
  length: number;
  /** Entries delivered to some group but not yet acknowledged. */
  pending: number;
  /** The same, per group. */
  pendingByGroup: Map<string, number>;
  /**
   * Per group, the time (ms of a stream id) before which the group has acknowledged every
   * entry: its oldest pending entry's, or its last delivered one's when nothing is pending;
   * Redis' clock at the read when it has acknowledged the whole stream.
   */
  ackedBeforeMs: Map<string, number>;
  /** The id below which everything was trimmed (or '' when nothing could be). */
  trimmedBelow: string;
}

/**
 * Bounds a stream to what no reader still needs: nothing at or after the oldest entry that
 * any consumer group has pending or not yet delivered, and nothing younger than `retainMs`
 * (StreamExecutions readers may replay a short tail). XTRIM MINID removes only ids strictly
 * below the bound, so the oldest pending entry itself always stays.
 *
 * Every group counts, not just ours: another service's group must not lose entries it has
 * not read. A stream without any group is left alone (the sync has not attached yet).
 */
export async function trimStream(redis: Redis, stream: string, retainMs: number, now = Date.now()): Promise<StreamStatus> {
  // One atomic read of the groups, the newest entry and Redis' clock: a group that has
  // acknowledged up to the newest entry has committed everything stamped before that clock.
  const snap = (await redis.multi().xinfo('GROUPS', stream).xrevrange(stream, '+', '-', 'COUNT', 1).time().exec()) ?? [];
  for (const [err] of snap) if (err) throw err;
  const groups = snap[0]![1] as unknown[][];
  const newest = (snap[1]![1] as [string, string[]][])[0]?.[0];
  const [sec, usec] = snap[2]![1] as [string, string];
  const redisNow = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
  let bound: string | undefined;
  let pending = 0;
  const pendingByGroup = new Map<string, number>();
  const ackedBeforeMs = new Map<string, number>();
  for (const g of groups) {
    const info = pairs(g);
    const name = String(info.get('name'));
    const groupPending = Number(info.get('pending') ?? 0);
    pending += groupPending;
    pendingByGroup.set(name, groupPending);
    let groupBound = String(info.get('last-delivered-id') ?? '0-0');
    if (groupPending > 0) {
      const summary = (await redis.xpending(stream, name)) as [number, string | null, string | null, unknown];
      if (summary[1]) groupBound = summary[1];
    }
    const caughtUp = groupPending === 0 && (newest === undefined || compareIds(groupBound, newest) >= 0);
    ackedBeforeMs.set(name, caughtUp ? redisNow : entryTimeMs(groupBound));
    if (bound === undefined || compareIds(groupBound, bound) < 0) bound = groupBound;
  }
  let trimmedBelow = '';
  if (bound !== undefined) {
    const retainBound = `${Math.max(0, now - retainMs)}-0`;
    if (compareIds(retainBound, bound) < 0) bound = retainBound;
    if (bound !== '0-0') {
      // `~`: Redis trims whole macro-nodes only, which is far cheaper and still bounded.
      await redis.xtrim(stream, 'MINID', '~', bound);
      trimmedBelow = bound;
    }
  }
  return { stream, length: await redis.xlen(stream), pending, pendingByGroup, ackedBeforeMs, trimmedBelow };
}

/** XINFO replies are flat [key, value, ...] lists under the legacy reply mapping. */
function pairs(flat: unknown[]): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(String(flat[i]), flat[i + 1]);
  return m;
}
