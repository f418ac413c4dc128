/**
 * A slow Postgres is not a missing one. An analytics read gets its tier's statement timeout
 * plus the wait before it hears UNAVAILABLE; one read that outlasts the wait fails alone, not
 * every read beside it; a server that refuses connections is still answered at once.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ApiError } from '../../src/domain/errors.js';
import { loadConfig } from '../../src/shared/config.js';
import { createSql } from '../../src/shared/postgres.js';
import { availabilityOf, PgUnavailable } from '../../src/shared/pg-availability.js';
import { TierSql } from '../../src/workers/analytics/tier-sql.js';
import { freePort } from '../../src/devstack/ports.js';
import { usePostgres } from '../support/servers.js';

const reasonOf = (err: unknown) => (err instanceof ApiError ? err.reason : String(err));

describe('Postgres availability on the request path', () => {
  const pg = usePostgres();

  it('an analytics read slower than the wait but inside its tier timeout is answered; past the timeout it is QUERY_TIMEOUT', async () => {
    const config = loadConfig({ TIERBOOK_DATABASE_URL: pg.server.url, TIERBOOK_PG_WAIT_MS: '200', TIERBOOK_PG_TIMEOUT_MS_PRO: '1500' });
    const tierSql = new TierSql(config, pino({ level: 'silent' }));
    try {
      // Warm the pool so the read below is the statement, not a first connect.
      await tierSql.run('PRO', 'warm', {}, (sql) => sql`SELECT 1`);
      const rows = await tierSql.run('PRO', 'slow', {}, (sql) => sql`SELECT pg_sleep(0.5), 7 AS n`);
      assert.equal(rows[0]!.n, 7, 'a 500 ms read under a 1,500 ms tier timeout and a 200 ms wait');
      const started = Date.now();
      const err = await tierSql.run('PRO', 'too slow', {}, (sql) => sql`SELECT pg_sleep(3)`).then(() => undefined, (e: unknown) => e);
      assert.equal(reasonOf(err), 'QUERY_TIMEOUT', 'the server ended it: the client hears the tier timeout, not "unavailable"');
      assert.ok(Date.now() - started < 2_500, `answered after ${Date.now() - started} ms`);
    } finally {
      await tierSql.end();
    }
  });

  it('one read that outlasts the wait fails alone: the next read on the same pool runs', async () => {
    const sql = createSql(pg.server.url, { max: 2, waitMs: 200 });
    try {
      const availability = availabilityOf(sql);
      await availability.run(() => sql`SELECT 1`);
      const slow = await availability.run(() => sql`SELECT pg_sleep(0.6)`).then(() => undefined, (e: unknown) => e);
      assert.ok(slow instanceof PgUnavailable, `the slow read: ${String(slow)}`);
      assert.match(slow.message, /did not answer within 200 ms/);
      const rows = await availability.run(() => sql`SELECT 2 AS n`);
      assert.equal(rows[0]!.n, 2, 'the read right after it is answered, not refused for the next 200 ms');
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('a server that refuses connections is answered at once, and probed again after the wait', async () => {
    const port = await freePort();
    const sql = createSql(`postgres://tierbook@127.0.0.1:${port}/tierbook`, { max: 2, waitMs: 300 });
    try {
      const availability = availabilityOf(sql);
      const first = await availability.run(() => sql`SELECT 1`).then(() => undefined, (e: unknown) => e);
      assert.equal((first as { code?: string }).code, 'ECONNREFUSED');
      for (let i = 0; i < 20; i++) {
        const started = Date.now();
        const err = await availability.run(() => sql`SELECT 1`).then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof PgUnavailable && /in the last 300 ms/.test(err.message), `call ${i}: ${String(err)}`);
        assert.ok(Date.now() - started < 50, `call ${i} answered after ${Date.now() - started} ms`);
      }
      await new Promise((r) => setTimeout(r, 350));
      // The probe after the wait reaches the pool again, fails, and the pool is down again.
      const probe = await availability.run(() => sql`SELECT 1`).then(() => undefined, (e: unknown) => e);
      assert.ok(probe !== undefined, 'the probe failed');
      assert.doesNotMatch(String((probe as Error).message), /in the last/, 'the probe went to the pool');
      const after = await availability.run(() => sql`SELECT 1`).then(() => undefined, (e: unknown) => e);
      assert.match(String((after as Error).message), /in the last 300 ms/);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});
