import { createBlockingRedis, createRedis } from '../shared/redis.js';
import type { Logger } from 'pino';
import postgres from 'postgres';
import type { Config } from '../shared/config.js';
import { readInstrumentSpecs } from './instrument-symbols.js';
import { migrate } from './migrate.js';
import { ensurePartitions } from './partitions.js';
import { Backoff } from './retry.js';
import { watchStreams } from './stream-watch.js';
import { SyncLoop } from './sync-loop.js';
import { every } from './periodic.js';
import type { SyncStats } from './sync-stats.js';

/** Partitions are checked this often; they are created months ahead, so rarely is enough. */
const PARTITION_CHECK_MS = 6 * 3600_000;

/** A running sync: its counters, and a stop that lets the batch in hand commit. */
export interface SyncService {
  stats(): SyncStats;
  stop(): Promise<void>;
}

/**
 * Connects, migrates (under the migration lock, so every host may do it), and runs the sync
 * loop plus its housekeeping: stream discovery, trimming with a length watch, and partition
 * upkeep. Waits for Postgres and Redis to be reachable instead of failing at start.
 */
export async function startSyncService(config: Config, logger: Logger): Promise<SyncService> {
  const connect = () =>
    postgres(config.databaseUrl, {
      max: 1,
      onnotice: () => {},
      connect_timeout: 5,
      idle_timeout: 60,
      connection: { application_name: `tierbook-sync:${config.sync.consumer}` },
    });
  // Migrations and partition upkeep; the loop has its own client (see SyncLoop.reconnect).
  const sql = connect();
  // The loop blocks on `reader`; housekeeping must not queue behind a blocked read.
  const reader = createBlockingRedis(config.redisUrl, { connectionName: 'tierbook-sync-reader' });
  const control = createRedis(config.redisUrl, { maxRetriesPerRequest: 3, connectionName: 'tierbook-sync-control' });

  const boot = new Backoff(100, config.sync.maxBackoffMs);
  for (;;) {
    try {
      await migrate(sql, logger);
      await ensurePartitions(sql, config.sync.partitionsAhead);
      await upsertInstruments(sql, config.orders.instrumentsFile);
      break;
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'postgres not ready for the sync; retrying');
      await boot.wait();
    }
  }

  const loop = new SyncLoop({ connect, reader, control, sync: config.sync, instrumentsFile: config.orders.instrumentsFile, logger });
  const onError = (what: string) => (err: unknown) => logger.warn({ err: (err as Error).message }, `${what} failed`);
  const jobs = [
    every(config.sync.discoverIntervalMs, async () => void (await loop.source.discover()), onError('stream discovery')),
    every(config.sync.trimIntervalMs, async () => {
      const [p50, p99] = loop.lag.percentiles([50, 99]);
      loop.stats.lagP50Ms = p50 ?? 0;
      loop.stats.lagP99Ms = p99 ?? 0;
      await watchStreams(control, loop.source.streams, config.sync, config.orders, loop.stats, logger);
    }, onError('stream trim')),
    every(PARTITION_CHECK_MS, async () => void (await ensurePartitions(sql, config.sync.partitionsAhead)), onError('partition upkeep')),
  ];
  const running = loop.run();
  logger.info({ group: config.sync.group, consumer: config.sync.consumer }, 'sync started');

  return {
    stats: () => ({ ...loop.stats }),
    async stop() {
      loop.stop();
      await running;
      await Promise.all(jobs.map((j) => j.stop()));
      await loop.close();
      reader.disconnect();
      control.disconnect();
      await sql.end({ timeout: 5 });
      logger.info(loop.stats, 'sync stopped');
    },
  };
}

/** Records the declared instruments (with their spec) so history queries can join them. */
async function upsertInstruments(sql: postgres.Sql, file: string): Promise<void> {
  const specs = readInstrumentSpecs(file);
  if (specs.size === 0) return;
  const syms = [...specs.keys()].sort();
  await sql`INSERT INTO instruments (symbol, spec)
    SELECT * FROM unnest(${syms}::text[], ${syms.map((s) => JSON.stringify(specs.get(s) ?? {}))}::jsonb[])
    ON CONFLICT (symbol) DO UPDATE SET spec = EXCLUDED.spec`;
}
