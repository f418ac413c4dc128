import { createHash } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { ListTradesRequestSchema, ListTradesResponseSchema } from '../../gen/tierbook/v1/analytics_service_pb.js';
import { FillSchema, Liquidity, Side, type Fill } from '../../gen/tierbook/v1/types_pb.js';
import type { TierName } from '../../domain/tiers.js';
import type { UnaryHandler } from '../handler.js';
import { analyticsContext, listedSymbol, type AnalyticsContext } from './analytics-context.js';
import { decodeRequest } from '../request-decoding.js';
import { checkRange, msTimestamp, pageSize, timestampMs } from './request-checks.js';
import { awaitOrderVersion } from './read-after.js';
import { historyReach } from './sync-position.js';
import { decodeTradeToken, encodeTradeToken, fillKey, filterFingerprint, type TradeCursor } from './trade-page-token.js';

/**
 * ListTrades: the caller's fills, newest first, keyset-paged by (executed_at, symbol, fill
 * sequence). The sequence is the number in the fill id `SYMBOL:F<n>`, compared as a number:
 * as text, F100 would sort between F10 and F99 when one sweep fills in one millisecond. A page
 * starts strictly below the previous page's last key, so fills inserted meanwhile (they are
 * newer, or land in a page not yet read) never shift or repeat a page. Rows stream from a
 * Postgres cursor in chunks; the page is encoded as they arrive, never a whole history.
 */
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
const CHUNK = 100;
const METHOD = 'ListTrades';

interface FillRow {
  fill_id: string;
  symbol: string;
  price: string;
  quantity: string;
  t: string;
  maker_order_id: string;
  maker_coid: string;
  maker_account_id: string;
  maker_side: string;
  taker_order_id: string;
  taker_coid: string;
  taker_side: string;
}

export interface TradeQuery {
  accountId: string;
  symbol: string;
  start?: bigint;
  end?: bigint;
  after?: TradeCursor;
  limit: number;
}

/** One page of fills from Postgres: up to `limit` rows and whether more follow. */
export async function queryTrades(a: AnalyticsContext, tier: TierName, q: TradeQuery): Promise<{ fills: Fill[]; last?: TradeCursor; more: boolean }> {
  const inputs = { accountId: q.accountId, symbol: q.symbol, start: q.start?.toString(), end: q.end?.toString(), after: q.after?.timeMs.toString(), limit: q.limit };
  return a.sql.run(tier, 'list-trades', inputs, async (sql) => {
    // One branch per side of the trade, each an ordered range scan of its own index, merged.
    // `seq` is the book's fill sequence (ids are `SYMBOL:F<n>`): the index hands rows over
    // in time order and Postgres sorts only the ties within one millisecond.
    const after = q.after ? fillKey(q.after.fillId) : undefined; // decodeTradeToken checked it
    const side = (col: 'maker_account_id' | 'taker_account_id') => sql`
      SELECT fill_id, symbol, price::text, quantity::text,
        floor(extract(epoch FROM executed_at) * 1000)::bigint::text AS t,
        maker_order_id, maker_coid, maker_account_id, maker_side, taker_order_id, taker_coid, taker_side,
        executed_at, substr(fill_id, length(symbol) + 3)::bigint AS seq
      FROM fills
      WHERE ${sql(col)} = ${q.accountId}
        ${q.symbol !== '' ? sql`AND symbol = ${q.symbol}` : sql``}
        ${q.start !== undefined ? sql`AND executed_at >= tierbook_ms(${q.start.toString()})` : sql``}
        ${q.end !== undefined ? sql`AND executed_at < tierbook_ms(${q.end.toString()})` : sql``}
        ${q.after && after ? sql`AND (executed_at, symbol, substr(fill_id, length(symbol) + 3)::bigint) < (tierbook_ms(${q.after.timeMs.toString()}), ${after.symbol}, ${after.seq.toString()}::bigint)` : sql``}
      ORDER BY executed_at DESC, symbol DESC, seq DESC
      LIMIT ${q.limit + 1}`;
    const cursor = sql<FillRow[]>`
      SELECT * FROM ((${side('maker_account_id')}) UNION ALL (${side('taker_account_id')})) f
      ORDER BY executed_at DESC, symbol DESC, seq DESC
      LIMIT ${q.limit + 1}`.cursor(CHUNK);
    const fills: Fill[] = [];
    let last: TradeCursor | undefined;
    let more = false;
    for await (const rows of cursor) {
      for (const r of rows) {
        if (fills.length === q.limit) {
          more = true;
          break;
        }
        fills.push(toFill(r, q.accountId));
        last = { timeMs: BigInt(r.t), fillId: r.fill_id };
      }
      if (more) break;
    }
    return { fills, last, more };
  });
}

function toFill(r: FillRow, accountId: string): Fill {
  const maker = r.maker_account_id === accountId;
  const side = maker ? r.maker_side : r.taker_side;
  return create(FillSchema, {
    fillId: r.fill_id,
    orderId: maker ? r.maker_order_id : r.taker_order_id,
    clientOrderId: maker ? r.maker_coid : r.taker_coid,
    symbol: r.symbol,
    side: side === 'BUY' ? Side.BUY : Side.SELL,
    priceTicks: BigInt(r.price),
    quantityLots: BigInt(r.quantity),
    liquidity: maker ? Liquidity.MAKER : Liquidity.TAKER,
    fillTime: msTimestamp(BigInt(r.t)),
  });
}

export const listTrades: UnaryHandler = async (ctx, call) => {
  const req = decodeRequest(ListTradesRequestSchema, call.payload);
  const a = await analyticsContext(ctx);
  if (req.symbol !== '') listedSymbol(a, req.symbol);
  const start = timestampMs(req.startTime, 'start_time');
  const end = timestampMs(req.endTime, 'end_time');
  checkRange(start, end);
  const limit = pageSize(req.pageSize, DEFAULT_PAGE, MAX_PAGE);
  const fingerprint = filterFingerprint(req.symbol, start, end);
  const after = req.pageToken !== '' ? decodeTradeToken(req.pageToken, fingerprint) : undefined;
  await awaitOrderVersion(a, call, req.afterOrder);
  // Cached per account version: a page changes only when the account's fills do.
  const args = createHash('sha1').update(call.payload).digest('base64url');
  return a.cache.account(call.tier, METHOD, call.accountId, args, async () => {
    const reach = await historyReach(a, req.symbol);
    const page = await queryTrades(a, call.tier, { accountId: call.accountId, symbol: req.symbol, start, end, after, limit });
    return toBinary(ListTradesResponseSchema, create(ListTradesResponseSchema, {
      consistentThroughTime: msTimestamp(reach),
      fills: page.fills,
      nextPageToken: page.more && page.last ? encodeTradeToken(page.last, fingerprint) : '',
    }));
  });
};
