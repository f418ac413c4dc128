/**
 * `tierbook rebuild`: restores Redis hot state from Postgres after Redis lost its data.
 * Stop the gateways first; the sync may keep running (it re-attaches to the new streams).
 */
import { createRedis } from '../shared/redis.js';
import postgres from 'postgres';
import type { Config } from '../shared/config.js';
import { migrate } from '../sync/migrate.js';
import { rebuildRedis, type RebuildReport } from '../sync/rebuild/rebuild-redis.js';
import { loadInstrumentsFile, publishInstruments } from '../workers/orders/index.js';

export interface RunRebuildOptions {
  config: Config;
  /** Overwrite books Redis still has (default: refuse). */
  force?: boolean;
  /** Progress display; default stderr. */
  out?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** `tierbook rebuild`: the rebuild with the configured Redis and Postgres, with progress. */
export async function runRebuild(opts: RunRebuildOptions): Promise<void> {
  await rebuildFromConfig(opts);
}

/** The same, returning what was restored (for tests and tooling). */
export async function rebuildFromConfig(opts: RunRebuildOptions): Promise<RebuildReport> {
  const sql = postgres(opts.config.databaseUrl, { max: 2, onnotice: () => {} });
  const redis = createRedis(opts.config.redisUrl, { maxRetriesPerRequest: 20 });
  try {
    await migrate(sql);
    // The instrument hashes first: the book scripts read them, and a book with orders but no
    // instrument would refuse every order.
    const instruments = loadInstrumentsFile(opts.config.orders.instrumentsFile);
    await publishInstruments(redis, instruments);
    return await rebuildRedis({ sql, redis, symbols: instruments.map((i) => i.symbol), force: opts.force, out: opts.out });
  } finally {
    redis.disconnect();
    await sql.end({ timeout: 5 });
  }
}
