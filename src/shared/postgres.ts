import postgres, { type Sql } from 'postgres';

/** A postgres.js pool. `max` is per process: size it per role (gateway auth, sync, analytics). */
export function createSql(url: string, opts: { max?: number; appName?: string } = {}): Sql {
  return postgres(url, {
    max: opts.max ?? 4,
    idle_timeout: 30,
    connect_timeout: 5,
    onnotice: () => {},
    connection: { application_name: opts.appName ?? 'tierbook' },
  });
}
