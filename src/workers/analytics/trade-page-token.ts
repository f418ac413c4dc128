import { ApiError } from '../../domain/errors.js';

/**
 * ListTrades page tokens: the keyset position of the last fill shown, (time, fill id), bound to
 * the filters of the request that made it. Opaque to clients (base64url JSON) but not secret:
 * a forged token can only page through the caller's own fills.
 */
export interface TradeCursor {
  /** executed_at of the last fill shown, epoch ms. */
  timeMs: bigint;
  fillId: string;
}

/** Fill ids are `SYMBOL:F<n>`; symbols never contain ':'. */
const FILL_ID = /^([^:]+):F(0|[1-9]\d{0,18})$/;

/**
 * Where a fill sorts among fills of the same millisecond: its book, then its number in the
 * book's fill sequence (compared as a number: as text, F100 sorts before F99).
 */
export function fillKey(fillId: string): { symbol: string; seq: bigint } | undefined {
  const m = FILL_ID.exec(fillId);
  return m ? { symbol: m[1]!, seq: BigInt(m[2]!) } : undefined;
}

interface TokenBody {
  t: string;
  i: string;
  f: string;
}

/** The filters a token is valid for: another symbol or range must start from page one. */
export function filterFingerprint(symbol: string, start: bigint | undefined, end: bigint | undefined): string {
  return `${symbol}|${start ?? ''}|${end ?? ''}`;
}

export function encodeTradeToken(c: TradeCursor, fingerprint: string): string {
  const body: TokenBody = { t: c.timeMs.toString(), i: c.fillId, f: fingerprint };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

/** Decodes a token; INVALID_PAGE_TOKEN when it is garbage or was made for other filters. */
export function decodeTradeToken(raw: string, fingerprint: string): TradeCursor {
  try {
    if (raw.length <= 1024 && /^[A-Za-z0-9_-]+$/.test(raw)) {
      const b = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<TokenBody>;
      if (typeof b.t === 'string' && /^\d{1,16}$/.test(b.t) && typeof b.i === 'string' && fillKey(b.i) && b.f === fingerprint) {
        return { timeMs: BigInt(b.t), fillId: b.i };
      }
    }
  } catch {
    /* reported below */
  }
  throw new ApiError('INVALID_PAGE_TOKEN', 'page_token: not a token from a ListTrades call with the same symbol, start_time and end_time', { field: 'page_token' });
}
