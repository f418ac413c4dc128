import type { Cluster, Redis } from 'ioredis';
import { bookScriptSource, luaSource as lua } from '../../shared/lua-source.js';

export { bookScriptSource } from '../../shared/lua-source.js';

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
 * The order scripts bound to a connection. ioredis' defineCommand sends EVALSHA and falls
 * back to EVAL on NOSCRIPT (per node on a cluster), so a restarted Redis needs nothing.
 * Defined once per connection; the sources are read from the tree, as dist/ has no .lua.
 */
export function orderScripts(redis: RedisLike): OrderScripts {
  const known = defined.get(redis);
  if (known) return known;
  for (const name of ['place', 'cancel', 'amend'] as const) {
    redis.defineCommand(`tierbook_${name}`, { lua: bookScriptSource(name), numberOfKeys: 1 });
  }
  redis.defineCommand('tierbook_release_coid', { lua: lua('release-client-id'), numberOfKeys: 1 });
  const r = redis as unknown as Record<string, (...a: string[]) => Promise<unknown>>;
  const bind = (cmd: string): BookScript => (key, ...args) => r[cmd]!.call(redis, key, ...args) as Promise<string>;
  const scripts: OrderScripts = {
    place: bind('tierbook_place'),
    cancel: bind('tierbook_cancel'),
    amend: bind('tierbook_amend'),
    releaseClientId: (key, value) => r['tierbook_release_coid']!.call(redis, key, value) as Promise<number>,
  };
  defined.set(redis, scripts);
  return scripts;
}
