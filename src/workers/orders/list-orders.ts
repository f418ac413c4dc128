import { create, toBinary } from '@bufbuild/protobuf';
import { ApiError } from '../../domain/errors.js';
import { refusal } from '../../domain/refusals.js';
import { accountBookKey, orderKey, symbolOfOrderId } from '../../domain/matching/keys.js';
import { ListOrdersRequestSchema, ListOrdersResponseSchema } from '../../gen/tierbook/v1/order_service_pb.js';
import type { UnaryHandler } from '../handler.js';
import { orderContext } from './order-context.js';
import { orderFromHash } from './order-engine.js';
import { toProtoOrder } from './proto-mapping.js';
import type { RedisLike } from './scripts.js';
import { decodeRequest, invalidField } from '../request-decoding.js';

/**
 * ListOrders, newest first, with keyset paging. Each book keeps, per account, a sorted set of
 * members "ctime(13 digits):counter(12 digits):orderId" (all score 0, so ordered by bytes):
 * `all` for every order and `open` for working ones. A page reads the members below the
 * token from every book in question, merges them, and the token is the last member shown;
 * orders placed or finished meanwhile never shift a page.
 */
const MEMBER_PREFIX = 27; // "ctime13:counter12:"
const DEFAULT_PAGE = 100;
const MAX_PAGE = 500;

interface PageToken {
  m: string; // the last member returned
  s: string; // the symbol filter it was made for
  o: boolean; // the open_only flag it was made for
}

function encodeToken(t: PageToken): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeToken(raw: string, symbol: string, openOnly: boolean): PageToken {
  try {
    const t = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as PageToken;
    if (typeof t.m === 'string' && /^\d{13}:\d{12}:/.test(t.m) && t.s === symbol && t.o === openOnly) return t;
  } catch {
    /* fall through */
  }
  throw new ApiError('INVALID_PAGE_TOKEN', 'page_token: not a token from a ListOrders call with the same symbol and open_only', { field: 'page_token' });
}

export interface ListPage {
  orders: ReturnType<typeof orderFromHash>[];
  nextToken: string;
}

/** One page of an account's orders over the given books. */
export async function listOrders(
  redis: RedisLike, accountId: string, symbols: readonly string[],
  opts: { symbolFilter: string; openOnly: boolean; pageSize: number; token: string },
): Promise<ListPage> {
  const after = opts.token ? decodeToken(opts.token, opts.symbolFilter, opts.openOnly).m : undefined;
  const max = after ? `(${after}` : '+';
  const part = opts.openOnly ? 'open' : 'all';
  const perBook = await Promise.all(symbols.map((s) =>
    redis.zrevrangebylex(accountBookKey(s, accountId, part), max, '-', 'LIMIT', 0, opts.pageSize + 1)));
  const merged = perBook.flat().sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  const page = merged.slice(0, opts.pageSize);
  const hashes = await Promise.all(page.map((m) => {
    const id = m.slice(MEMBER_PREFIX);
    return redis.hgetall(orderKey(symbolOfOrderId(id)!, id));
  }));
  const nextToken = merged.length > opts.pageSize
    ? encodeToken({ m: page[page.length - 1]!, s: opts.symbolFilter, o: opts.openOnly })
    : '';
  return { orders: hashes.filter((h) => h.id !== undefined).map(orderFromHash), nextToken };
}

/** ListOrders: the caller's orders, one symbol or all listed ones, newest first. */
export const listOrdersHandler: UnaryHandler = async (ctx, call) => {
  const req = decodeRequest(ListOrdersRequestSchema, call.payload);
  if (req.pageSize < 0 || req.pageSize > MAX_PAGE) throw invalidField('page_size', `must be between 0 and ${MAX_PAGE}`);
  const { registry } = await orderContext(ctx);
  if (req.symbol !== '' && !registry.get(req.symbol)) {
    throw refusal('UNKNOWN_SYMBOL', { symbol: req.symbol });
  }
  const symbols = req.symbol !== '' ? [req.symbol] : registry.list.map((i) => i.symbol);
  const page = await listOrders(ctx.redis, call.accountId, symbols, {
    symbolFilter: req.symbol, openOnly: req.openOnly, pageSize: req.pageSize || DEFAULT_PAGE, token: req.pageToken,
  });
  return toBinary(ListOrdersResponseSchema, create(ListOrdersResponseSchema, {
    orders: page.orders.map(toProtoOrder),
    nextPageToken: page.nextToken,
  }));
};
