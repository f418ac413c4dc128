import type { PendingQuery, Row, TransactionSql } from 'postgres';
import type { FillEvent } from '../domain/events.js';

/**
 * Writes each account's side of each fill to `account_fills` (migrations/0004_rollups.sql)
 * with what the fill realized, and adds it to the account's minute, hour and day rollups
 * (`account_rollups`), which GetAccountStats reads instead of replaying history.
 *
 * What a fill realized is the position's cumulative realized PnL after it (carried by the fill
 * event) minus the one after the position's previous fill (`ver - 1`), found in the same batch
 * or already stored. When that one is not here yet (batches committed out of order by two
 * hosts), the row waits with `realized` NULL and is completed, and rolled up, when its
 * predecessor is written. Exactly once: rows are insert-or-ignore, and only inserted or
 * completed rows reach the rollups, so a redelivered batch adds nothing.
 *
 * Returns the statement (nothing for no engine fills), for the batch's pipeline. Must run
 * after the batch's position upsert: that locks every (account, symbol) touched here
 * until COMMIT, so two hosts writing consecutive fills of one position run one after the
 * other, and the later one sees the earlier one's rows (no predecessor is missed by both).
 */
export function writeAccountFills(tx: TransactionSql, fills: readonly FillEvent[]): PendingQuery<Row[]> | undefined {
  const rows: { acct: string; sym: string; ver: string; fid: string; t: string; dq: string; px: string; qa: string; ra: string; pra: string | null }[] = [];
  /** Realized PnL after each position version of this batch: a row's predecessor, when here. */
  const after = new Map<string, string>();
  for (const f of fills) {
    // positions[0] is the maker's, positions[1] the taker's (the engine's order).
    const sides = [[f.maker, f.positions[0]], [f.taker, f.positions[1]]] as const;
    for (const [side, pos] of sides) {
      if (!pos || pos.acct !== side.acct || pos.sym !== f.sym) continue; // not an engine fill: nothing to derive
      rows.push({ acct: side.acct, sym: f.sym, ver: pos.ver, fid: f.id, t: f.time, dq: side.side === 'BUY' ? f.qty : `-${f.qty}`, px: f.px, qa: pos.qty, ra: pos.realized, pra: null });
      after.set(`${side.acct}\u0000${f.sym}\u0000${pos.ver}`, pos.realized);
    }
  }
  if (rows.length === 0) return undefined;
  const key = (acct: string, sym: string, ver: bigint | string) => `${acct}\u0000${sym}\u0000${ver}`;
  for (const r of rows) r.pra = after.get(key(r.acct, r.sym, BigInt(r.ver) - 1n)) ?? null;
  // Stored rows that may be waiting for a row of this batch: the successors of the rows
  // whose successor is not in the batch (one per position and run of versions).
  const next = rows.filter((r) => !after.has(key(r.acct, r.sym, BigInt(r.ver) + 1n)));
  const col = <K extends keyof (typeof rows)[number]>(k: K, of = rows) => of.map((r) => r[k]);
  return tx`
    WITH u AS (
      SELECT * FROM unnest(${col('acct')}::text[], ${col('sym')}::text[], ${col('ver')}::bigint[], ${col('fid')}::text[],
        ${col('t')}::bigint[], ${col('dq')}::bigint[], ${col('px')}::bigint[], ${col('qa')}::bigint[], ${col('ra')}::numeric[],
        ${col('pra')}::numeric[])
        AS u(acct, sym, ver, fid, t, dq, px, qa, ra, pra)
    ), ins AS (
      -- No ORDER BY needed: the position locks already order writers of the same keys.
      INSERT INTO account_fills AS l (account_id, symbol, pos_ver, fill_id, executed_at, lots, price, realized_after, realized, closing)
      -- The time as tierbook_ms() computes it, written out: that function is not inlined, and
      -- a call per row costs more than the rest of the row.
      SELECT u.acct, u.sym, u.ver, u.fid, timestamptz 'epoch' + u.t * interval '1 millisecond', u.dq, u.px, u.ra,
        u.ra - CASE WHEN u.ver = 1 THEN 0 ELSE COALESCE(u.pra, p.realized_after) END,
        -- Opening (or adding to) a position leaves it on the fill's side with at least the
        -- fill's lots; anything else closed part of it (a flip leaves fewer lots than filled).
        NOT (sign(u.qa) = sign(u.dq) AND abs(u.qa) >= abs(u.dq))
      FROM u
      LEFT JOIN account_fills p ON u.pra IS NULL AND p.account_id = u.acct AND p.symbol = u.sym AND p.pos_ver = u.ver - 1
      ON CONFLICT (account_id, symbol, pos_ver) DO NOTHING
      RETURNING l.account_id, l.executed_at, l.lots, l.price, l.realized, l.closing
    ), completed AS (
      -- Stored rows that were waiting for their predecessor, which is in this batch. (Only
      -- rows still NULL change: each is completed, and rolled up, once.)
      UPDATE account_fills n SET realized = n.realized_after - x.ra
      FROM unnest(${col('acct', next)}::text[], ${col('sym', next)}::text[], ${col('ver', next)}::bigint[], ${col('ra', next)}::numeric[]) AS x(acct, sym, ver, ra)
      WHERE n.account_id = x.acct AND n.symbol = x.sym AND n.pos_ver = x.ver + 1 AND n.realized IS NULL
      RETURNING n.account_id, n.executed_at, n.realized, n.closing
    ), parts AS (
      SELECT account_id, executed_at, abs(lots)::numeric AS volume, price::numeric * abs(lots) AS notional, 1 AS fills,
        COALESCE(realized, 0) AS realized, closing::int AS closing, COALESCE(closing AND realized > 0, false)::int AS wins FROM ins
      UNION ALL
      SELECT account_id, executed_at, 0, 0, 0, realized, 0, (closing AND realized > 0)::int FROM completed
    ), minutes AS (
      -- Per account and minute first (date_trunc: no numeric arithmetic per row), then into
      -- minutes, hours and days.
      SELECT account_id, tierbook_epoch_ms(m AT TIME ZONE 'UTC') AS b, volume, notional, fills, realized, closing, wins FROM (
        SELECT account_id, date_trunc('minute', executed_at AT TIME ZONE 'UTC') AS m, sum(volume) AS volume, sum(notional) AS notional,
          sum(fills) AS fills, sum(realized) AS realized, sum(closing) AS closing, sum(wins) AS wins
        FROM parts GROUP BY 1, 2) x
    )
    INSERT INTO account_rollups AS r (account_id, width_ms, bucket_ms, volume, notional, fills, realized, closing, wins)
    SELECT account_id, w, b - b % w, sum(volume), sum(notional), sum(fills), sum(realized), sum(closing), sum(wins)
    FROM minutes CROSS JOIN unnest('{60000,3600000,86400000}'::bigint[]) AS w
    GROUP BY account_id, w, b - b % w
    ORDER BY account_id, w, b - b % w
    ON CONFLICT (account_id, width_ms, bucket_ms) DO UPDATE SET
      volume = r.volume + EXCLUDED.volume, notional = r.notional + EXCLUDED.notional, fills = r.fills + EXCLUDED.fills,
      realized = r.realized + EXCLUDED.realized, closing = r.closing + EXCLUDED.closing, wins = r.wins + EXCLUDED.wins`;
}
