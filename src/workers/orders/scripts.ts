import type { Cluster, Redis } from 'ioredis';
import { bookCaller } from '../../shared/book-library.js';
import { luaSource as lua } from '../../shared/lua-source.js';

/** A Redis connection or cluster client: the scripts run unchanged on both. */
export type RedisLike = Redis | Cluster;

/** One book script: KEYS[1] = the instrument key, then ARGV; resolves to the JSON reply. */
export type BookScript = (instrumentKey: string, ...args: string[]) => Promise<string>;

export interface OrderScripts {
  place: BookScript;
  cancel: BookScript;
  amend: BookScript;
  releaseClientId: (reservationKey: string, value: string) => Promise<number>;
}

const defined = new WeakMap<RedisLike, OrderScripts>();

/**
 * The order scripts bound to a connection. The book operations are FCALLs of the book
 * Functions library (src/shared/book-library.ts: loaded at first use and again on a node that
 * lost it). The client order id release is a plain script: ioredis' defineCommand sends
 * EVALSHA and falls back to EVAL on NOSCRIPT (per node on a cluster). Bound once per connection.
 */
export function orderScripts(redis: RedisLike): OrderScripts {
  const known = defined.get(redis);
  if (known) return known;
  redis.defineCommand('tierbook_release_coid', { lua: lua('release-client-id'), numberOfKeys: 1 });
  const r = redis as unknown as Record<string, (...a: string[]) => Promise<unknown>>;
  const book = bookCaller(redis);
  const bind = (op: 'place' | 'cancel' | 'amend'): BookScript => (key, ...args) => book(op, key, ...args) as Promise<string>;
  const scripts: OrderScripts = {
    place: bind('place'),
    cancel: bind('cancel'),
    amend: bind('amend'),
    releaseClientId: (key, value) => r['tierbook_release_coid']!.call(redis, key, value) as Promise<number>,
  };
  defined.set(redis, scripts);
  return scripts;
}
