import type { Redis } from 'ioredis';

/**
 * Removes consumers of the group that hold no pending entries and have been idle for
 * `idleMs` (hosts that went away; their entries were already reclaimed). Harmless for a live
 * but quiet consumer: Redis re-creates a consumer on its next XREADGROUP. Keeps XINFO
 * CONSUMERS short and the "which hosts are syncing" picture true. Returns the names removed.
 */
export async function reapIdleConsumers(redis: Redis, stream: string, group: string, self: string, idleMs: number): Promise<string[]> {
  const consumers = (await redis.xinfo('CONSUMERS', stream, group)) as unknown[][];
  const removed: string[] = [];
  for (const flat of consumers) {
    const info = new Map<string, unknown>();
    for (let i = 0; i + 1 < flat.length; i += 2) info.set(String(flat[i]), flat[i + 1]);
    const name = String(info.get('name'));
    if (name === self || Number(info.get('pending')) !== 0 || Number(info.get('idle')) < idleMs) continue;
    await redis.xgroup('DELCONSUMER', stream, group, name);
    removed.push(name);
  }
  return removed;
}
