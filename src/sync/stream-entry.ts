/**
 * One entry read from a book's event stream, as the sync thread carries it from XREADGROUP
 * (or XAUTOCLAIM) to Postgres and back to XACK.
 */
export interface StreamEntry {
  /** The stream key, `{bk:SYM}:events`. */
  stream: string;
  /** The entry id, `<ms>-<seq>`: the ms part is when the engine appended it. */
  id: string;
  /** The raw field list, [k, v, k, v, ...]. */
  fields: string[];
}

/**
 * The trace of the call that produced an entry, for the sync's log lines about it: the
 * `traceId` and the caller's span (`parentId`, as in the call log) from the entry's `tp`
 * field (src/workers/orders/lua/common.lua), or nothing when the call carried no traceparent.
 */
export function entryTrace(entry: StreamEntry): { traceId?: string; parentId?: string } {
  const f = entry.fields;
  for (let i = 0; i + 1 < f.length; i += 2) {
    if (f[i] !== 'tp') continue;
    const [, traceId, parentId] = (f[i + 1] ?? '').split('-');
    return { traceId, parentId };
  }
  return {};
}

/** The append time of an entry, from its id (Redis stamps ids with its own clock). */
export function entryTimeMs(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

/** Compares two stream ids numerically (string order is wrong for ids of different length). */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-');
  const [bm, bs] = b.split('-');
  const d = BigInt(am ?? 0) - BigInt(bm ?? 0);
  if (d !== 0n) return d < 0n ? -1 : 1;
  const e = BigInt(as ?? 0) - BigInt(bs ?? 0);
  return e === 0n ? 0 : e < 0n ? -1 : 1;
}

/**
 * Turns an XREADGROUP reply ([[stream, [[id, fields] ...]] ...], RESP2 shape, which ioredis'
 * default "legacy" reply mapping also gives under RESP3) into entries. Entries whose body was
 * deleted (XTRIM/XDEL while pending) come back with null fields; they are kept with an empty
 * field list so they get acknowledged (as poison) instead of blocking the group forever.
 */
export function entriesFromRead(reply: unknown): StreamEntry[] {
  const out: StreamEntry[] = [];
  if (!Array.isArray(reply)) return out;
  for (const streamReply of reply as [string, [string, string[] | null][]][]) {
    const [stream, items] = streamReply;
    for (const [id, fields] of items ?? []) out.push({ stream, id, fields: fields ?? [] });
  }
  return out;
}
