import type { OrderState } from '../domain/events.js';

/**
 * An order as Postgres' `orders` table has it, in the event contract's shape: one mapping for
 * every reader of finished orders (history reads, rebuild).
 */
export interface OrderRow {
  order_id: string; client_order_id: string; account_id: string; symbol: string; side: string;
  order_type: string; tif: string; price: string; quantity: string; filled: string; notional: string;
  status: string; reason: string; post_only: boolean; stp: string; ctime: string; utime: string;
  ver: string; seq: string;
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

/** The columns orderFromRow reads; times as exact epoch-ms strings. */
export const ORDER_COLUMNS = `order_id, client_order_id, account_id, symbol, side, order_type, tif,
  price::text, quantity::text, filled::text, notional::text, status, reason, post_only, stp,
  (extract(epoch FROM created_at) * 1000)::bigint::text AS ctime,
  (extract(epoch FROM updated_at) * 1000)::bigint::text AS utime, ver::text, seq::text`;
