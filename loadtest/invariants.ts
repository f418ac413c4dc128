import postgres from 'postgres';
import type { InvariantCheck } from './report.js';

/**
 * After a run against the stack: (1) every order ghz got OK for is in Postgres, (2) for every
 * symbol the positions of all accounts sum to zero (conservation). The sync thread writes
 * behind, so (1) waits, bounded, until the count stops short or matches. Checks that cannot run
 * yet (tables not migrated) are reported SKIPPED with the reason, never silently passed.
 *
 * Schema assumed (migrations by the sync engineer): orders(client_order_id, ...),
 * positions(account_id, symbol, quantity) as in migrations/0002_trading.sql.
 */
export async function checkInvariants(
  databaseUrl: string,
  /** Client order id prefix of the measured run's orders (ids are `<prefix>-<stream>-<n>`). */
  runId: string,
  acceptedOrders: number,
  waitSec = 30,
): Promise<InvariantCheck[]> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  const checks: InvariantCheck[] = [];
  try {
    checks.push(await ordersSynced(sql, runId, acceptedOrders, waitSec));
    checks.push(await conservation(sql));
  } catch (e) {
    checks.push({ name: 'Postgres reachable', pass: null, detail: `cannot check: ${(e as Error).message}` });
  } finally {
    await sql.end({ timeout: 5 });
  }
  return checks;
}

type Sql = ReturnType<typeof postgres>;

async function tableExists(sql: Sql, table: string): Promise<boolean> {
  const [row] = await sql<{ ok: boolean }[]>`select to_regclass(${'public.' + table}) is not null as ok`;
  return !!row?.ok;
}

async function ordersSynced(sql: Sql, runId: string, accepted: number, waitSec: number): Promise<InvariantCheck> {
  const name = 'every accepted order is in Postgres';
  if (!(await tableExists(sql, 'orders'))) return { name, pass: null, detail: 'table orders does not exist yet (sync migrations not applied)' };
  const deadline = Date.now() + waitSec * 1000;
  let found = 0;
  let lastGrowth = Date.now();
  for (;;) {
    // Our client order ids all start with the run id, so other runs' orders are not counted.
    const [row] = await sql<{ n: string }[]>`select count(*)::text as n from orders where client_order_id like ${runId + '-%'}`;
    const n = Number(row?.n ?? 0);
    if (n > found) lastGrowth = Date.now();
    found = n;
    // Done when all arrived, at the deadline, or when nothing arrived for 10 s (sync stalled).
    if (found >= accepted || Date.now() > deadline || Date.now() - lastGrowth > 10_000) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  let hint = '';
  if (found === 0 && accepted > 0) {
    const [all] = await sql<{ n: string }[]>`select count(*)::text as n from orders`;
    if (Number(all?.n ?? 0) === 0) hint = '; orders is empty: is the sync thread running in the stack?';
  }
  // More rows than OK answers is not a loss: a call that timed out on the client may still
  // have been placed. Fewer is.
  return {
    name,
    pass: found >= accepted,
    detail: `${accepted} PlaceOrder calls answered OK, ${found} rows in orders for run ${runId}${found < accepted ? ` (${accepted - found} missing)` : ''}${found > accepted ? ` (${found - accepted} placed without an OK reaching ghz)` : ''}${hint}`,
  };
}

async function conservation(sql: Sql): Promise<InvariantCheck> {
  const name = 'conservation: positions sum to zero per symbol';
  if (!(await tableExists(sql, 'positions'))) return { name, pass: null, detail: 'table positions does not exist yet (sync migrations not applied)' };
  const rows = await sql<{ symbol: string; total: string }[]>`
    select symbol, sum(quantity)::text as total from positions group by symbol order by symbol`;
  const bad = rows.filter((r) => r.total !== '0');
  // No positions at all proves nothing (nothing synced yet), so it is not a pass.
  if (rows.length === 0) return { name, pass: null, detail: 'no positions in Postgres yet' };
  return {
    name,
    pass: bad.length === 0,
    detail: bad.length === 0 ? `${rows.length} symbols, all sum to 0` : bad.map((r) => `${r.symbol}: ${r.total}`).join(', '),
  };
}
