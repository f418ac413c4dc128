import type { Redis } from 'ioredis';
import type { Sql } from 'postgres';
import { accountVersionKey } from '../account-version.js';
import { Progress } from './progress.js';
import { restoreBook, type BookRestore } from './restore-book.js';
import { crossSlotPipeline, scanKeys } from '../../shared/redis.js';

export interface RebuildOptions {
  sql: Sql;
  redis: Redis;
  /** Books to restore besides every symbol Postgres has orders or positions for. */
  symbols?: readonly string[];
  /** Restore even though Redis still holds order books (it overwrites them). */
  force?: boolean;
  /** Where the progress display goes; default stderr. */
  out?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** What was restored, per book and in total. */
export interface RebuildReport {
  books: BookRestore[];
  orders: number;
  open: number;
  positions: number;
  clientIds: number;
  accounts: number;
}

/**
 * Restores Redis hot state from Postgres after Redis lost it: run it with the gateways
 * stopped (new orders on a half-restored book would reuse ids and miss resting liquidity).
 * Refuses when Redis still has order books unless `force`. Account versions are set to the
 * current time, above any count they had, so analytics caches built before the loss are
 * invalidated. Event streams stay empty: Postgres already holds everything they carried.
 */
export async function rebuildRedis(opts: RebuildOptions): Promise<RebuildReport> {
  const { sql, redis } = opts;
  if (!opts.force && (await hasBooks(redis))) {
    throw new Error('Redis still holds order books; rebuild restores a Redis that lost its data (use --force to overwrite)');
  }
  const symbols = new Set(opts.symbols ?? []);
  for (const r of await sql<{ symbol: string }[]>`SELECT DISTINCT symbol FROM orders UNION SELECT DISTINCT symbol FROM positions`) symbols.add(r.symbol);
  const [totals] = await sql<{ n: string }[]>`SELECT ((SELECT count(*) FROM orders) + (SELECT count(*) FROM positions))::text AS n`;
  const progress = new Progress(opts.out ?? process.stderr, Number(totals?.n ?? 0));
  const report: RebuildReport = { books: [], orders: 0, open: 0, positions: 0, clientIds: 0, accounts: 0 };
  for (const symbol of [...symbols].sort()) {
    progress.setPhase(`book ${symbol}`);
    const book = await restoreBook(sql, redis, symbol, (n) => progress.add(n));
    report.books.push(book);
    report.orders += book.orders;
    report.open += book.open;
    report.positions += book.positions;
    report.clientIds += book.clientIds;
  }
  const accounts = await sql<{ account_id: string }[]>`SELECT DISTINCT account_id FROM positions`;
  const stamp = String(Date.now());
  const pipe = crossSlotPipeline(redis);
  for (const a of accounts) pipe.set(accountVersionKey(a.account_id), stamp);
  await pipe.exec();
  report.accounts = accounts.length;
  progress.finish(`${report.books.length} books, ${report.orders} orders (${report.open} working), ${report.positions} positions, ${report.clientIds} client order ids`);
  return report;
}

async function hasBooks(redis: Redis): Promise<boolean> {
  let found = false;
  await scanKeys(redis, '{bk:*}:o:*', [], () => (found = true));
  return found;
}
