import type { Sql } from 'postgres';
import type { FillEvent, OrderState } from '../../domain/events.js';
import { orderFromRow, type OrderRow as RawOrderRow } from '../../shared/order-row.js';

/** One order of a book as Postgres has it, with what a rebuild needs besides its state. */
export interface OrderRow {
  order: OrderState;
  placed: { px: string; qty: string; ver: string };
  /** The fills this order took as the taker (only when it has a client order id). */
  takerFills: FillEvent[];
}

interface RawOrder extends RawOrderRow {
  placed_price: string; placed_qty: string; placed_ver: string;
  taker_fills: FillEvent[] | null;
}

/**
 * Streams a book's orders in time priority (seq), `chunk` at a time, each with its taker
 * fills (one hash aggregate over the book's fills, not a lookup per order).
 */
export async function forEachOrder(sql: Sql, symbol: string, chunk: number, fn: (rows: OrderRow[]) => Promise<void>): Promise<void> {
  const cursor = sql<RawOrder[]>`
    WITH tf AS (
      SELECT taker_order_id, json_agg(json_build_object(
          'id', fill_id, 'sym', symbol, 'px', price::text, 'qty', quantity::text,
          'time', (extract(epoch FROM executed_at) * 1000)::bigint::text,
          'maker', json_build_object('order', maker_order_id, 'coid', maker_coid, 'acct', maker_account_id, 'side', maker_side),
          'taker', json_build_object('order', taker_order_id, 'coid', taker_coid, 'acct', taker_account_id, 'side', taker_side),
          'positions', json_build_array())
        ORDER BY executed_at, length(fill_id), fill_id) AS fills
      FROM fills WHERE symbol = ${symbol} GROUP BY taker_order_id)
    SELECT o.order_id, o.client_order_id, o.account_id, o.symbol, o.side, o.order_type, o.tif,
      o.price::text, o.quantity::text, o.filled::text, o.notional::text, o.status, o.reason, o.post_only, o.stp,
      (extract(epoch FROM o.created_at) * 1000)::bigint::text AS ctime,
      (extract(epoch FROM o.updated_at) * 1000)::bigint::text AS utime,
      o.ver::text, o.seq::text, o.placed_price::text, o.placed_qty::text, o.placed_ver::text,
      CASE WHEN o.client_order_id <> '' THEN tf.fills END AS taker_fills
    FROM orders o LEFT JOIN tf ON tf.taker_order_id = o.order_id
    WHERE o.symbol = ${symbol}
    ORDER BY o.seq, o.order_id`.cursor(chunk);
  for await (const raw of cursor) {
    await fn(raw.map((r) => ({
      order: orderFromRow(r),
      placed: { px: r.placed_price, qty: r.placed_qty, ver: r.placed_ver },
      takerFills: r.taker_fills ?? [],
    })));
  }
}

/** The counters of a book's `state` hash, from the highest ids Postgres has seen. */
export async function bookCounters(sql: Sql, symbol: string): Promise<{ fill: string; last: string | undefined }> {
  const [row] = await sql<{ n: string | null; px: string | null }[]>`
    SELECT substring(fill_id FROM ':F([0-9]+)$') AS n, price::text AS px FROM fills
    WHERE symbol = ${symbol} AND fill_id ~ ':F[0-9]+$'
    ORDER BY substring(fill_id FROM ':F([0-9]+)$')::bigint DESC LIMIT 1`;
  return { fill: row?.n ?? '0', last: row?.px ?? undefined };
}

/** A book's positions. */
export function positionsOf(sql: Sql, symbol: string) {
  return sql<{ account_id: string; quantity: string; cost_basis: string; realized_pnl: string; ver: string }[]>`
    SELECT account_id, quantity::text, cost_basis::text, realized_pnl::text, ver::text FROM positions WHERE symbol = ${symbol}`;
}
