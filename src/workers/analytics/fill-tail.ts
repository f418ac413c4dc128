import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { eventStreamKey } from '../../domain/events.js';
import { bookStateKey } from '../../domain/matching/keys.js';
import { fromRoot } from '../../shared/paths.js';
import type { CandleFill } from './candle-math.js';

/**
 * The fills Postgres may not have yet: the tail of a book's event stream. The sync thread
 * acknowledges an entry only after its transaction committed, so every entry before the
 * consumer group's first unacknowledged one is in Postgres (`uncommittedFrom`), and the
 * stream from there on holds the rest. Fill ids are `SYMBOL:F<n>` with n counting up by one
 * per fill of the book, which lets a reader split history exactly: Postgres for n below a
 * boundary, the stream for n at or above it.
 */
export interface FillTail {
  /** Redis server time of the read, epoch ms: every fill stamped before it is included. */
  nowMs: bigint;
  /** The book's fill counter at the read: fills 1..counter exist. */
  counter: bigint;
  /** Stream entries scanned (fills and order events); equal to the limit means cut short. */
  scanned: number;
  fills: CandleFill[];
}

type TailCommand = (stream: string, state: string, from: string, count: string) => Promise<string[]>;
const defined = new WeakMap<Redis, TailCommand>();

function tailScript(redis: Redis): TailCommand {
  let cmd = defined.get(redis);
  if (!cmd) {
    redis.defineCommand('tierbook_an_fill_tail', { lua: readFileSync(fromRoot('src', 'workers', 'analytics', 'lua', 'fill-tail.lua'), 'utf8'), numberOfKeys: 2 });
    const r = redis as unknown as Record<string, TailCommand>;
    cmd = (...args) => r['tierbook_an_fill_tail']!.call(redis, ...args);
    defined.set(redis, cmd);
  }
  return cmd;
}

/** The fill sequence number of a fill id `SYMBOL:F<n>`. */
export function fillSeq(symbol: string, fillId: string): bigint {
  return BigInt(fillId.slice(symbol.length + 2));
}

/** Reads the stream's fills from entry id `from` ('-' for the start), scanning at most `limit` entries. */
export async function readFillTail(redis: Redis, symbol: string, from: string, limit: number): Promise<FillTail> {
  const flat = await tailScript(redis)(eventStreamKey(symbol), bookStateKey(symbol), from, String(limit));
  const fills: CandleFill[] = [];
  for (let i = 3; i + 3 < flat.length; i += 4) {
    fills.push({ seq: fillSeq(symbol, flat[i]!), price: BigInt(flat[i + 1]!), qty: BigInt(flat[i + 2]!), timeMs: BigInt(flat[i + 3]!) });
  }
  return { nowMs: BigInt(flat[0]!), counter: BigInt(flat[1]!), scanned: Number(flat[2]), fills };
}

/**
 * The id from which the stream holds entries not yet committed to Postgres by `group`: its
 * oldest pending entry, else everything after its last delivered one. '-' (the whole stream)
 * when the group does not exist yet (nothing was committed).
 */
export async function uncommittedFrom(redis: Redis, symbol: string, group: string): Promise<string> {
  const stream = eventStreamKey(symbol);
  let groups: unknown[][];
  try {
    groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  } catch {
    return '-'; // no stream yet: no fills at all
  }
  for (const g of groups) {
    const info = new Map<string, unknown>();
    for (let i = 0; i + 1 < g.length; i += 2) info.set(String(g[i]), g[i + 1]);
    if (String(info.get('name')) !== group) continue;
    if (Number(info.get('pending') ?? 0) > 0) {
      const summary = (await redis.xpending(stream, group)) as [number, string | null, string | null, unknown];
      if (summary[1]) return summary[1];
    }
    const last = String(info.get('last-delivered-id') ?? '0-0');
    return last === '0-0' ? '-' : `(${last}`;
  }
  return '-';
}
