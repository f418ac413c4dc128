import postgres, { type Sql } from 'postgres';
import { availabilityOf, reconnectBackoff } from './pg-availability.js';

/** A postgres.js pool. `max` is per process: size it per role (gateway auth, sync, analytics). */
export function createSql(
  url: string,
  opts: {
    max?: number;
    appName?: string;
    waitMs?: number;
    /** The server cancels a statement running longer (a startup parameter: every query of the pool). */
    statementTimeoutMs?: number;
    /** false: no type-fetch query on connect (a pool that passes and reads only scalars). */
    fetchTypes?: boolean;
  } = {},
): Sql {
  const sql = postgres(url, {
    max: opts.max ?? 4,
    idle_timeout: 30,
    connect_timeout: 5,
    backoff: reconnectBackoff,
    onnotice: () => {},
    ...(opts.fetchTypes === false ? { fetch_types: false } : {}),
    connection: {
      application_name: opts.appName ?? 'tierbook',
      ...(opts.statementTimeoutMs !== undefined ? { statement_timeout: opts.statementTimeoutMs } : {}),
    },
  });
  // A request-path pool: its calls wait at most the statement timeout plus waitMs
  // (src/shared/pg-availability.ts).
  if (opts.waitMs !== undefined) availabilityOf(sql, opts.waitMs, opts.statementTimeoutMs ?? 0);
  return sql;
}
