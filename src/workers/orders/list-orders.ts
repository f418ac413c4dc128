import { create, toBinary } from '@bufbuild/protobuf';
import type { Sql } from 'postgres';
import { ApiError } from '../../domain/errors.js';
import { refusal } from '../../domain/refusals.js';
import type { OrderState } from '../../domain/events.js';
import { accountBookKey, bookStateKey, listMember, orderKey, symbolOfOrderId } from '../../domain/matching/keys.js';
import { ListOrdersRequestSchema, ListOrdersResponseSchema } from '../../gen/tierbook/v1/order_service_pb.js';
import type { UnaryHandler } from '../handler.js';
import { orderContext } from './order-context.js';
import { orderFromHash } from './order-engine.js';
import { historyPage } from './order-history.js';
import { toProtoOrder } from './proto-mapping.js';
import type { RedisLike } from './scripts.js';
import { decodeRequest, invalidField } from '../request-decoding.js';

/**
 * ListOrders, newest first, with keyset paging. Each book keeps, per account, a sorted set of
 * members "ctime(13 digits):counter(12 digits):orderId" (all score 0, so ordered by bytes):
 * `all` for every order still in Redis and `open` for working ones. A page reads the members
 * below the token from every book in question, merges them, and the token is the last member
 * shown; orders placed or finished meanwhile never shift a page.
 *
 * Finished orders leave Redis after their retention window (docs/retention.md), so a page
 * that reaches below a book's newest retired member (`state.swept`) also reads Postgres, with
 * the same ordering rebuilt from each row (listMember). Redis is read first, then Postgres:
 * an order absent from Redis at the first read had left it, so its events were committed
 * before the second read; one present in both is shown once, as the higher version. So paging
 * while orders move from one store to the other neither repeats nor skips one.
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
  orders: OrderState[];
  nextToken: string;
}

const newestFirst = (a: string, b: string) => (a < b ? 1 : a > b ? -1 : 0);

/** One page of an account's orders over the given books. */
export async function listOrders(
  redis: RedisLike, accountId: string, symbols: readonly string[],
  opts: { symbolFilter: string; openOnly: boolean; pageSize: number; token: string; history?: () => Sql },
): Promise<ListPage> {
  const after = opts.token ? decodeToken(opts.token, opts.symbolFilter, opts.openOnly).m : undefined;
  const max = after ? `(${after}` : '+';
  const part = opts.openOnly ? 'open' : 'all';
  const want = opts.pageSize + 1;
  // Per book, its members and its newest retired member in one atomic read (same slot).
  const perBook = await Promise.all(symbols.map(async (s) => {
    const res = await redis.multi()
      .zrevrangebylex(accountBookKey(s, accountId, part), max, '-', 'LIMIT', 0, want)
      .hget(bookStateKey(s), 'swept')
      .exec();
    return { members: (res?.[0]?.[1] ?? []) as string[], swept: (res?.[1]?.[1] ?? null) as string | null };
  }));
  const members = perBook.flatMap((b) => b.members).sort(newestFirst).slice(0, want);
  const hashes = await Promise.all(members.map((m) => {
    const id = m.slice(MEMBER_PREFIX);
    return redis.hgetall(orderKey(symbolOfOrderId(id)!, id));
  }));
  const found = new Map<string, OrderState>();
  let vanished = false;
  hashes.forEach((h) => (h.id !== undefined ? found.set(h.id, orderFromHash(h)) : (vanished = true)));

  // Open orders never leave Redis; finished ones may have, below a book's `swept` member.
  const lowest = members.length === want ? members[members.length - 1]! : '';
  const mayHaveLeft = !opts.openOnly && (vanished || perBook.some((b) => b.swept !== null && b.swept > lowest));
  if (mayHaveLeft && opts.history) {
    for (const o of await historyPage(opts.history(), accountId, symbols, after, want)) {
      const mine = found.get(o.id);
      if (!mine || BigInt(mine.ver) < BigInt(o.ver)) found.set(o.id, o);
    }
  }
  const merged = [...found.values()].map((o) => ({ o, m: listMember(o) })).sort((a, b) => newestFirst(a.m, b.m));
  const page = merged.slice(0, opts.pageSize);
  const nextToken = merged.length > opts.pageSize
    ? encodeToken({ m: page[page.length - 1]!.m, s: opts.symbolFilter, o: opts.openOnly })
    : '';
  return { orders: page.map((x) => x.o), nextToken };
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
    history: ctx.sql,
  });
  return toBinary(ListOrdersResponseSchema, create(ListOrdersResponseSchema, {
    orders: page.orders.map(toProtoOrder),
    nextPageToken: page.nextToken,
  }));
};
