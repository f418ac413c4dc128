import type { Sql } from 'postgres';
import type { OrderState } from '../../domain/events.js';
import { ORDER_COLUMNS, orderFromRow, type OrderRow } from '../../shared/order-row.js';
import { ApiError } from '../../domain/errors.js';
import { availabilityOf, isPgUnavailable } from '../../shared/pg-availability.js';

/**
 * Orders that left Redis (finished, past their retention window, events committed): Postgres
 * has their final state, which is what Redis held when they left (the sweeper removes an order
 * only after the sync committed its last event, and a finished order never changes again).
 */

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
