import type { Sql } from 'postgres';
import type { OrderState } from '../../domain/events.js';
import { ApiError } from '../../domain/errors.js';
import { availabilityOf, isPgUnavailable } from '../../shared/pg-availability.js';

/**
 * Orders that left Redis (finished, past their retention window, events committed): Postgres
 * has their final state, which is what Redis held when they left (the sweeper removes an order
 * only after the sync committed its last event, and a finished order never changes again).
 */

interface OrderRow {
  order_id: string; client_order_id: string; account_id: string; symbol: string; side: string;
  order_type: string; tif: string; price: string; quantity: string; filled: string; notional: string;
  status: string; reason: string; post_only: boolean; stp: string; ctime: string; utime: string;
  ver: string; seq: string;
}

/**
 * Runs one history read, bounded by the pool's wait: an unreachable database is
 * UNAVAILABLE / BACKEND_UNAVAILABLE at once, not a call that waits out its deadline.
 */
async function historyRead<T>(sql: Sql, read: () => Promise<T>): Promise<T> {
  try {
    return await availabilityOf(sql).run(read);
  } catch (err) {
    if (isPgUnavailable(err)) throw new ApiError('BACKEND_UNAVAILABLE', 'the order history database is unavailable; retry later');
    throw err;
  }
}

/** A row of `orders` (selected with ORDER_COLUMNS) in the event contract's shape. */
export function orderFromRow(r: OrderRow): OrderState {
  return {
    id: r.order_id, coid: r.client_order_id, acct: r.account_id, sym: r.symbol,
    side: r.side as OrderState['side'], type: r.order_type as OrderState['type'], tif: r.tif as OrderState['tif'],
    px: r.price, qty: r.quantity, filled: r.filled, notional: r.notional,
    status: r.status as OrderState['status'], reason: r.reason, post: r.post_only, stp: r.stp as OrderState['stp'],
    ctime: r.ctime, utime: r.utime, ver: r.ver, seq: r.seq,
  };
}

/** One of the account's orders by id. */
export async function historyById(sql: Sql, accountId: string, orderId: string): Promise<OrderState | undefined> {
  const rows = await historyRead(sql, () => sql<OrderRow[]>`
    SELECT ${sql.unsafe(ORDER_COLUMNS)} FROM orders WHERE order_id = ${orderId} AND account_id = ${accountId}`);
  return rows[0] && orderFromRow(rows[0]);
}

/** The account's newest order with this client order id. */
export async function historyByClientId(sql: Sql, accountId: string, coid: string): Promise<OrderState | undefined> {
  const rows = await historyRead(sql, () => sql<OrderRow[]>`
    SELECT ${sql.unsafe(ORDER_COLUMNS)} FROM orders
    WHERE account_id = ${accountId} AND client_order_id = ${coid} AND client_order_id <> ''
    ORDER BY created_at DESC LIMIT 1`);
  return rows[0] && orderFromRow(rows[0]);
}

/**
 * The account's orders on `symbols` that come before the list member `before` (newest first,
 * the order of list-orders.ts: creation ms, the id's counter, then the id's bytes), at most
 * `limit` of them.
 */
export async function historyPage(sql: Sql, accountId: string, symbols: readonly string[], before: string | undefined, limit: number): Promise<OrderState[]> {
  const key = before ? parseMember(before) : undefined;
  const rows = await historyRead(sql, () => key
    ? sql<OrderRow[]>`
        SELECT ${sql.unsafe(ORDER_COLUMNS)} FROM orders
        WHERE account_id = ${accountId} AND symbol = ANY(${symbols as string[]}::text[])
          AND created_at <= tierbook_ms(${key.ms})
          AND (created_at, substring(order_id FROM ':([0-9]+)$')::bigint, order_id COLLATE "C")
            < (tierbook_ms(${key.ms}), ${key.counter}::bigint, ${key.id} COLLATE "C")
        ORDER BY created_at DESC, substring(order_id FROM ':([0-9]+)$')::bigint DESC, order_id COLLATE "C" DESC
        LIMIT ${limit}`
    : sql<OrderRow[]>`
        SELECT ${sql.unsafe(ORDER_COLUMNS)} FROM orders
        WHERE account_id = ${accountId} AND symbol = ANY(${symbols as string[]}::text[])
        ORDER BY created_at DESC, substring(order_id FROM ':([0-9]+)$')::bigint DESC, order_id COLLATE "C" DESC
        LIMIT ${limit}`);
  return rows.map(orderFromRow);
}

function parseMember(m: string): { ms: string; counter: string; id: string } {
  return { ms: String(Number(m.slice(0, 13))), counter: String(BigInt(m.slice(14, 26))), id: m.slice(27) };
}

/** The columns orderFromRow reads; times as exact epoch-ms strings. */
export const ORDER_COLUMNS = `order_id, client_order_id, account_id, symbol, side, order_type, tif,
  price::text, quantity::text, filled::text, notional::text, status, reason, post_only, stp,
  (extract(epoch FROM created_at) * 1000)::bigint::text AS ctime,
  (extract(epoch FROM updated_at) * 1000)::bigint::text AS utime, ver::text, seq::text`;
