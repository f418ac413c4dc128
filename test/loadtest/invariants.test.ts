import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import postgres from 'postgres';
import { checkInvariants } from '../../loadtest/invariants.js';
import { migrate } from '../../src/sync/migrate.js';
import { usePostgres } from '../support/servers.js';

/**
 * The post-run checks against the real schema (migrations/): orders found by the run's client
 * order id prefix, missing ones reported, positions that do not sum to zero named, and checks
 * that cannot run (no tables) reported as skipped rather than passed.
 */
/**
 * Inserts a row giving every other required column a neutral value of its type: the sync
 * tables keep growing columns, and this test should only depend on the ones it checks.
 */
async function insert(sql: postgres.Sql, table: string, values: Record<string, unknown>): Promise<void> {
  const required = await sql<{ column_name: string; data_type: string }[]>`
    select column_name, data_type from information_schema.columns
    where table_name = ${table} and table_schema = 'public' and is_nullable = 'NO' and column_default is null`;
  const neutral = (type: string): unknown =>
    type.includes('timestamp') ? new Date() : type === 'boolean' ? false : /int|numeric|double|real/.test(type) ? 0 : '';
  const row = { ...Object.fromEntries(required.map((c) => [c.column_name, neutral(c.data_type)])), ...values };
  await sql`insert into ${sql(table)} ${sql(row as Record<string, postgres.SerializableParameter>)}`;
}

describe('post-run invariant checks', () => {
  const pg = usePostgres();


  it('skips, with the reason, when the tables do not exist yet', async () => {
    const checks = await checkInvariants(pg.server.url, 'lt1-run', 3, 1);
    assert.deepEqual(checks.map((c) => c.pass), [null, null]);
    assert.match(checks[0]!.detail, /orders does not exist/);
  });

  it('passes when every OK order is there and positions net to zero, and names what is wrong otherwise', async () => {
    await migrate(pg.sql);
    for (const coid of ['lt1-run-premium-maker-0', 'lt1-run-premium-maker-1', 'lt1-run-premium-taker-0', 'lt0-run-premium-maker-0']) {
      await insert(pg.sql, 'orders', { order_id: `o-${coid}`, client_order_id: coid, account_id: 'a1', symbol: 'AAPL' });
    }
    await insert(pg.sql, 'positions', { account_id: 'a1', symbol: 'AAPL', quantity: 5 });
    await insert(pg.sql, 'positions', { account_id: 'a2', symbol: 'AAPL', quantity: -5 });

    const ok = await checkInvariants(pg.server.url, 'lt1-run', 3, 1);
    assert.deepEqual(ok.map((c) => c.pass), [true, true], JSON.stringify(ok));
    assert.match(ok[0]!.detail, /3 PlaceOrder calls answered OK, 3 rows/);

    // Four OK answers but three rows of this run (the lt0 row belongs to another run).
    await insert(pg.sql, 'positions', { account_id: 'a3', symbol: 'AAPL', quantity: 2 });
    const bad = await checkInvariants(pg.server.url, 'lt1-run', 4, 1);
    assert.deepEqual(bad.map((c) => c.pass), [false, false]);
    assert.match(bad[0]!.detail, /\(1 missing\)/);
    assert.match(bad[1]!.detail, /AAPL: 2/);
  });
});
