import type { PendingQuery, Row, Sql, TransactionSql } from 'postgres';
import type { OrderState } from '../domain/events.js';
import type { BatchPlan } from './batch-plan.js';
import { writeAccountFills } from './account-ledger.js';

/**
 * Writes one batch plan in one transaction. Every statement passes one array per column and
 * `unnest`s it, so the SQL text (and its prepared statement) is the same for 1 or 50,000 rows
 * and the 65,534-parameter limit never applies. Every write is idempotent: fills are
 * insert-or-ignore by id, orders and positions only move to a higher `ver`, so a batch
 * redelivered after a crash changes nothing. The rollups analytics read (candles, account
 * stats; migrations/0004_rollups.sql) are kept in the same transaction: candles by a trigger
 * on `fills`, account fills by writeAccountFills. Positions go before fills: their row locks
 * order concurrent writers of one position (see account-ledger.ts), and every writer takes
 * the tables in the same order, so they cannot deadlock.
 */
export async function writePlan(sql: Sql, plan: BatchPlan): Promise<void> {
  if (plan.orders.length + plan.fills.length + plan.positions.length === 0) return;
  // Pipelined: the statements leave in one write and Postgres runs them in this order (so
  // the lock order above holds), instead of one round trip each. A batch then costs three
  // round trips (BEGIN, the statements, COMMIT) however many tables it touches; on this
  // box a loopback round trip is most of a small batch's CPU (docs/loadtest.md).
  await sql.begin((tx) => {
    const statements: PendingQuery<Row[]>[] = [];
    if (plan.symbols.length) statements.push(writeSymbols(tx, plan.symbols));
    if (plan.orders.length) statements.push(writeOrders(tx, plan));
    if (plan.positions.length) statements.push(writePositions(tx, plan));
    if (plan.fills.length) {
      statements.push(writeFills(tx, plan));
      const ledger = writeAccountFills(tx, plan.fills);
      if (ledger) statements.push(ledger);
    }
    return statements;
  });
}

function writeSymbols(tx: TransactionSql, symbols: string[]): PendingQuery<Row[]> {
  // Sorted: concurrent hosts then take row locks in one order and cannot deadlock.
  return tx`INSERT INTO instruments (symbol) SELECT unnest(${[...symbols].sort()}::text[])
           ON CONFLICT (symbol) DO NOTHING`;
}

function writeOrders(tx: TransactionSql, plan: BatchPlan): PendingQuery<Row[]> {
  // Sorted by id: concurrent writers lock rows in the same order.
  const idx = plan.orders.map((_, i) => i).sort((a, b) => {
    const x = (plan.orders[a] as OrderState).id;
    const y = (plan.orders[b] as OrderState).id;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const os = idx.map((i) => plan.orders[i] as OrderState);
  const pl = idx.map((i) => plan.placed[i] as BatchPlan['placed'][number]);
  const col = <K extends keyof OrderState>(k: K) => os.map((o) => String(o[k]));
  return tx`
    INSERT INTO orders AS o (order_id, client_order_id, account_id, symbol, side, order_type, tif,
      price, quantity, filled, notional, status, reason, post_only, stp, created_at, updated_at, ver, seq,
      placed_price, placed_qty, placed_ver)
    SELECT u.id, u.coid, u.acct, u.sym, u.side, u.type, u.tif, u.px, u.qty, u.filled, u.notional,
      u.status, u.reason, u.post, u.stp, tierbook_ms(u.ctime), tierbook_ms(u.utime), u.ver, u.seq,
      u.ppx, u.pqty, u.pver
    FROM unnest(${col('id')}::text[], ${col('coid')}::text[], ${col('acct')}::text[], ${col('sym')}::text[],
      ${col('side')}::text[], ${col('type')}::text[], ${col('tif')}::text[], ${col('px')}::bigint[],
      ${col('qty')}::bigint[], ${col('filled')}::bigint[], ${col('notional')}::numeric[],
      ${col('status')}::text[], ${col('reason')}::text[], ${col('post')}::boolean[], ${col('stp')}::text[],
      ${col('ctime')}::bigint[], ${col('utime')}::bigint[], ${col('ver')}::bigint[], ${col('seq')}::bigint[],
      ${pl.map((p) => p.px)}::bigint[], ${pl.map((p) => p.qty)}::bigint[], ${pl.map((p) => p.ver)}::bigint[])
      AS u(id, coid, acct, sym, side, type, tif, px, qty, filled, notional, status, reason, post, stp,
           ctime, utime, ver, seq, ppx, pqty, pver)
    ON CONFLICT (order_id, created_at) DO UPDATE SET
      filled = CASE WHEN o.ver < EXCLUDED.ver THEN EXCLUDED.filled ELSE o.filled END,
      notional = CASE WHEN o.ver < EXCLUDED.ver THEN EXCLUDED.notional ELSE o.notional END,
      status = CASE WHEN o.ver < EXCLUDED.ver THEN EXCLUDED.status ELSE o.status END,
      reason = CASE WHEN o.ver < EXCLUDED.ver THEN EXCLUDED.reason ELSE o.reason END,
      price = CASE WHEN o.ver < EXCLUDED.ver THEN EXCLUDED.price ELSE o.price END,
      quantity = CASE WHEN o.ver < EXCLUDED.ver THEN EXCLUDED.quantity ELSE o.quantity END,
      updated_at = CASE WHEN o.ver < EXCLUDED.ver THEN EXCLUDED.updated_at ELSE o.updated_at END,
      seq = CASE WHEN o.ver < EXCLUDED.ver THEN EXCLUDED.seq ELSE o.seq END,
      ver = GREATEST(o.ver, EXCLUDED.ver),
      placed_price = CASE WHEN EXCLUDED.placed_ver < o.placed_ver THEN EXCLUDED.placed_price ELSE o.placed_price END,
      placed_qty = CASE WHEN EXCLUDED.placed_ver < o.placed_ver THEN EXCLUDED.placed_qty ELSE o.placed_qty END,
      placed_ver = LEAST(o.placed_ver, EXCLUDED.placed_ver)
    -- Rows that would not change are not rewritten (no dead tuple for a replay).
    WHERE o.ver < EXCLUDED.ver OR EXCLUDED.placed_ver < o.placed_ver`;
}

function writeFills(tx: TransactionSql, plan: BatchPlan): PendingQuery<Row[]> {
  // Sorted by id: two hosts inserting overlapping fills wait for each other in one order.
  const fs = [...plan.fills].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return tx`
    INSERT INTO fills (fill_id, symbol, price, quantity, executed_at, maker_order_id, maker_coid,
      maker_account_id, maker_side, taker_order_id, taker_coid, taker_account_id, taker_side)
    SELECT u.id, u.sym, u.px, u.qty, tierbook_ms(u.t), u.mo, u.mc, u.ma, u.ms, u.tord, u.tc, u.ta, u.ts
    FROM unnest(${fs.map((f) => f.id)}::text[], ${fs.map((f) => f.sym)}::text[], ${fs.map((f) => f.px)}::bigint[],
      ${fs.map((f) => f.qty)}::bigint[], ${fs.map((f) => f.time)}::bigint[],
      ${fs.map((f) => f.maker.order)}::text[], ${fs.map((f) => f.maker.coid)}::text[],
      ${fs.map((f) => f.maker.acct)}::text[], ${fs.map((f) => f.maker.side)}::text[],
      ${fs.map((f) => f.taker.order)}::text[], ${fs.map((f) => f.taker.coid)}::text[],
      ${fs.map((f) => f.taker.acct)}::text[], ${fs.map((f) => f.taker.side)}::text[])
      AS u(id, sym, px, qty, t, mo, mc, ma, ms, tord, tc, ta, ts)
    ON CONFLICT (fill_id, executed_at) DO NOTHING`;
}

function writePositions(tx: TransactionSql, plan: BatchPlan): PendingQuery<Row[]> {
  const ps = [...plan.positions].sort((a, b) => (a.acct + '\u0000' + a.sym < b.acct + '\u0000' + b.sym ? -1 : 1));
  return tx`
    INSERT INTO positions AS p (account_id, symbol, quantity, cost_basis, realized_pnl, ver)
    SELECT * FROM unnest(${ps.map((p) => p.acct)}::text[], ${ps.map((p) => p.sym)}::text[],
      ${ps.map((p) => p.qty)}::bigint[], ${ps.map((p) => p.cost)}::numeric[],
      ${ps.map((p) => p.realized)}::numeric[], ${ps.map((p) => p.ver)}::bigint[])
    ON CONFLICT (account_id, symbol) DO UPDATE SET
      quantity = EXCLUDED.quantity, cost_basis = EXCLUDED.cost_basis,
      realized_pnl = EXCLUDED.realized_pnl, ver = EXCLUDED.ver, updated_at = now()
    WHERE p.ver < EXCLUDED.ver`;
}
