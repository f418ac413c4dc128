import type { Sql } from 'postgres';

/**
 * Makes sure the monthly partitions of orders and fills exist from last month (events in
 * flight at a month boundary) to `ahead` months after this one. Idempotent; the sync thread
 * runs it at start and then every few hours, so a partition exists long before its month.
 * Returns how many partitions it created.
 */
export async function ensurePartitions(sql: Sql, ahead: number, now = new Date()): Promise<number> {
  const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString().slice(0, 10);
  const [row] = await sql<{ created: number }[]>`SELECT tierbook_ensure_partitions(${first}::date, ${ahead + 2}) AS created`;
  return row?.created ?? 0;
}
