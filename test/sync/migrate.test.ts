/** Migrations on an empty database, on one already migrated, and from two processes at once. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import postgres from 'postgres';
import { migrate, readMigrations } from '../../src/sync/migrate.js';
import { ensurePartitions } from '../../src/sync/partitions.js';
import { usePostgres } from '../support/servers.js';

describe('migrations', () => {
  const pg = usePostgres();
  const fresh = async (name: string) => {
    await pg.sql.unsafe(`CREATE DATABASE ${name}`);
    return postgres(pg.server.url.replace(/\/tierbook$/, `/${name}`), { onnotice: () => {}, max: 2 });
  };


  it('applies every migration to an empty database, then nothing the second time', async () => {
    const db = await fresh('empty_then_again');
    try {
      const all = readMigrations().map((m) => m.name);
      assert.deepEqual(await migrate(db), all);
      assert.deepEqual(await migrate(db), []);
      const tables = (await db`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`).map((r) => r.tablename);
      for (const t of ['accounts', 'api_keys', 'instruments', 'positions', 'schema_migrations']) assert.ok(tables.includes(t), t);
      const recorded = await db`SELECT name FROM schema_migrations ORDER BY version`;
      assert.deepEqual(recorded.map((r) => r.name), all);
    } finally {
      await db.end();
    }
  });

  it('applies each migration once when several processes start together', async () => {
    const a = await fresh('racing');
    const b = postgres(pg.server.url.replace(/\/tierbook$/, '/racing'), { onnotice: () => {}, max: 2 });
    try {
      const [x, y] = await Promise.all([migrate(a), migrate(b)]);
      assert.equal(x.length + y.length, readMigrations().length);
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });

  it('partitions orders and fills by month, ahead of time, and covers position reads', async () => {
    const db = await fresh('partitions');
    try {
      await migrate(db);
      await ensurePartitions(db, 3, new Date(Date.UTC(2031, 11, 15)));
      const parts = (await db`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'fills'::regclass ORDER BY 1`).map((r) => String(r.relname));
      for (const p of ['fills_y2031m11', 'fills_y2031m12', 'fills_y2032m01', 'fills_y2032m03', 'fills_default']) assert.ok(parts.includes(p), p);
      assert.equal(await ensurePartitions(db, 3, new Date(Date.UTC(2031, 11, 15))), 0, 'idempotent');
      // A row lands in its month's partition, bounds in UTC.
      await db`INSERT INTO fills VALUES ('f1', 'X', 1, 1, tierbook_ms(${String(Date.UTC(2032, 0, 1))}), 'm', 'mc', 'a', 'BUY', 't', 'tc', 'b', 'SELL')`;
      const [where] = await db`SELECT tableoid::regclass::text AS p FROM fills WHERE fill_id = 'f1'`;
      assert.equal(where?.p, 'fills_y2032m01');
      const [pk] = await db`SELECT indexdef FROM pg_indexes WHERE tablename = 'positions' AND indexname = 'positions_pkey'`;
      assert.match(String(pk?.indexdef), /\(account_id, symbol\) INCLUDE \(quantity, cost_basis, realized_pnl\)/);
    } finally {
      await db.end();
    }
  });

  it('tierbook_ms is exact to the millisecond in any session time zone, and Postgres inlines it', async () => {
    const db = await fresh('epoch_ms');
    try {
      await migrate(db);
      const samples = ['0', '1', '999', String(Date.UTC(2026, 11, 3, 12, 0, 0, 1)), String(Date.UTC(2031, 0, 1) - 1), '253402300799999'];
      for (const tz of ['UTC', 'America/New_York', 'Asia/Kolkata']) {
        await db.unsafe(`SET TIME ZONE '${tz}'`);
        for (const ms of samples) {
          const [r] = await db<{ back: string }[]>`SELECT (extract(epoch FROM tierbook_ms(${ms}::bigint)) * 1000)::bigint::text AS back`;
          assert.equal(r!.back, ms, `${ms} in ${tz}`);
        }
      }
      // Inlined: the plan shows the expression, not a call of the SQL function per row.
      const plan = (await db.unsafe(`EXPLAIN VERBOSE SELECT tierbook_ms(g) FROM generate_series(1::bigint, 3::bigint) g`)).map((r) => String(r['QUERY PLAN'])).join('\n');
      assert.doesNotMatch(plan, /tierbook_ms\(/, plan);
    } finally {
      await db.end();
    }
  });
});
