import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import { fromRoot } from '../shared/paths.js';

/** One numbered SQL file in migrations/, applied once and recorded in schema_migrations. */
interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function readMigrations(dir = fromRoot('migrations')): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 4)), name: f, sql: readFileSync(join(dir, f), 'utf8') }));
}

/**
 * Applies the migrations not yet recorded, all in one transaction (a failed upgrade leaves the
 * database as it was) under an advisory
 * lock so that several processes starting at once apply each migration exactly once.
 * Returns the names it applied (empty when the database was already current).
 */
export async function migrate(sql: Sql, logger?: Logger, dir?: string): Promise<string[]> {
  const migrations = readMigrations(dir);
  const applied: string[] = [];
  await sql.begin(async (tx) => {
    // Transaction-scoped: released at COMMIT even if this process dies.
    await tx`SELECT pg_advisory_xact_lock(7391001)`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
    const done = new Set((await tx<{ version: number }[]>`SELECT version FROM schema_migrations`).map((r) => r.version));
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      logger?.info({ migration: m.name }, 'applying migration');
      await tx.unsafe(m.sql);
      await tx`INSERT INTO schema_migrations (version, name) VALUES (${m.version}, ${m.name})`;
      applied.push(m.name);
    }
  });
  return applied;
}
