import type { Redis } from 'ioredis';
import { eventStreamKey } from '../../domain/events.js';
import type { AnalyticsContext } from './analytics-context.js';
import { uncommittedFrom } from './fill-tail.js';

/**
 * How far the history database reaches: the time before which every book change of
 * `symbols` is committed. Per book, the first entry the sync's group has not acknowledged
 * (it acknowledges only after COMMIT) bounds it; a book with no such entry is committed
 * through `nowMs`, which the caller reads before calling (so nothing appended after it is
 * claimed). Read before the query whose answer it describes: the query then sees at least
 * that much. Costs two or three Redis commands a book, whatever the history's length.
 */
export async function consistentThroughMs(redis: Redis, symbols: readonly string[], group: string, nowMs: number): Promise<number> {
  const firsts = await Promise.all(symbols.map(async (s) => {
    const from = await uncommittedFrom(redis, s, group);
    const [first] = (await redis.xrange(eventStreamKey(s), from, '+', 'COUNT', 1)) as [string, string[]][];
    if (!first) return undefined;
    // The entry's id says when it was appended; the times inside it (an order's utime, a
    // fill's time) say when its script started, which can be a millisecond earlier. Clients
    // compare the reach with those inner times, so the earlier of the two bounds it.
    return Math.min(Number(first[0].slice(0, first[0].indexOf('-'))), scriptTimeOf(first[1]));
  }));
  // Everything of an earlier millisecond than the first uncommitted book change is committed.
  return firsts.reduce<number>((t, ms) => (ms === undefined ? t : Math.min(t, ms - 1)), nowMs);
}

/** The script time inside an event entry's document (fields k, kind, d, json); Infinity if none. */
function scriptTimeOf(fields: string[]): number {
  const d = fields[fields.indexOf('d') + 1];
  if (!d) return Infinity;
  try {
    const doc = JSON.parse(d) as { order?: { utime?: string }; time?: string };
    const t = Number(doc.order?.utime ?? doc.time);
    return Number.isFinite(t) ? t : Infinity;
  } catch {
    return Infinity;
  }
}

/** The reach (epoch ms) of the history for an answer about `symbol`, '' for every listed book. */
export function historyReach(a: AnalyticsContext, symbol = ''): Promise<number> {
  const now = Date.now();
  const symbols = symbol !== '' ? [symbol] : a.registry.list.map((i) => i.symbol);
  return consistentThroughMs(a.redis, symbols, a.config.sync.group, now);
}
