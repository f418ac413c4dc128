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
      if (typeof b.t === 'string' && /^\d{1,16}$/.test(b.t) && typeof b.i === 'string' && b.i.length > 0 && b.i.length <= 200 && b.f === fingerprint) {
        return { timeMs: BigInt(b.t), fillId: b.i };
      }
    }
  } catch {
    /* reported below */
  }
  throw new ApiError('INVALID_PAGE_TOKEN', 'page_token: not a token from a ListTrades call with the same symbol, start_time and end_time', { field: 'page_token' });
}
