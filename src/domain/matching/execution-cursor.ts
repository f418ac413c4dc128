/**
 * The StreamExecutions cursor: for every book, the id of the last stream entry the client has
 * seen. It is opaque to clients (base64url JSON) and carries every book, so a resume knows
 * exactly where to continue in each one, without gaps or repeats.
 */
export type StreamPositions = Record<string, string>;

const ID = /^\d{1,20}-\d{1,20}$/;

export function encodeCursor(p: StreamPositions): string {
  return Buffer.from(JSON.stringify({ v: 1, p })).toString('base64url');
}

/** Decodes a cursor; undefined when it is not one of ours. */
export function decodeCursor(raw: string): StreamPositions | undefined {
  try {
    const doc = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { v?: unknown; p?: unknown };
    if (doc.v !== 1 || !doc.p || typeof doc.p !== 'object' || Array.isArray(doc.p)) return undefined;
    const out: StreamPositions = {};
    for (const [k, v] of Object.entries(doc.p as Record<string, unknown>)) {
      if (typeof v !== 'string' || !ID.test(v)) return undefined;
      out[k] = v;
    }
    return out;
  } catch {
    return undefined;
  }
}

/** Orders Redis stream ids ("ms-seq") numerically; negative when a is older than b. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-');
  const [bm, bs] = b.split('-');
  const ms = BigInt(am!) - BigInt(bm!);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const s = BigInt(as ?? '0') - BigInt(bs ?? '0');
  return s === 0n ? 0 : s < 0n ? -1 : 1;
}
