import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError } from '../../domain/errors.js';
import { SYMBOL_PATTERN } from '../../domain/matching/instrument.js';
import { orderKey, symbolOfOrderId } from '../../domain/matching/keys.js';
import { refusal } from '../../domain/refusals.js';
import type { OrderVersion } from '../../gen/tierbook/v1/analytics_service_pb.js';
import type { CallTask } from '../task.js';
import { invalidField } from '../request-decoding.js';
import type { AnalyticsContext } from './analytics-context.js';

/**
 * Read-your-writes for the analytics reads: waits until the history database holds one of
 * the caller's orders at a version or later. The sync commits a book's events in stream
 * order, one transaction per batch, and an order's state follows its fills in the stream, so
 * that row being there means the order's fills and positions are there too.
 */
const POLL_MS = 5;

/** The cache-key suffix of a read that names an order state: such reads are answered fresh. */
export function afterOrderKey(after: OrderVersion | undefined): string {
  return after ? `:after=${after.orderId}@${after.version}` : '';
}

async function committedVersion(a: AnalyticsContext, call: CallTask, orderId: string): Promise<bigint | undefined> {
  const rows = await a.sql.run(call.tier, 'read-after', { orderId }, (sql) =>
    sql<{ ver: string }[]>`SELECT ver::text AS ver FROM orders WHERE order_id = ${orderId} AND account_id = ${call.accountId}`);
  return rows[0] ? BigInt(rows[0].ver) : undefined;
}

/** Returns once `after` is committed; SYNC_BEHIND when the wait bound or the deadline comes first. */
export async function awaitOrderVersion(a: AnalyticsContext, call: CallTask, after: OrderVersion | undefined): Promise<void> {
  if (!after) return;
  if (after.orderId === '') throw invalidField('after_order.order_id', 'is required when after_order is set');
  const symbol = symbolOfOrderId(after.orderId);
  // Order ids are `SYMBOL:<n>`: anything else names no order and is never sent to Postgres.
  if (!symbol || !SYMBOL_PATTERN.test(symbol) || after.orderId.length > 40) throw refusal('ORDER_NOT_FOUND', { field: 'after_order.order_id' });
  if (after.version < 1n) throw invalidField('after_order.version', `must be at least 1, got ${after.version}`);
  const have = await committedVersion(a, call, after.orderId);
  if (have !== undefined && have >= after.version) return;
  // Not committed yet: it must exist (it may not have reached the history at all yet).
  const live = await a.redis.hmget(orderKey(symbol, after.orderId), 'acct', 'ver');
  if (have === undefined && live[0] !== call.accountId) throw refusal('ORDER_NOT_FOUND', { field: 'after_order.order_id' });
  const current = live[0] === call.accountId && live[1] ? BigInt(live[1]) : have!;
  if (current < after.version) {
    throw invalidField('after_order.version', `order ${after.orderId} is at version ${current}, below ${after.version}`);
  }
  const waitMs = a.config.analytics.readAfterWaitMs;
  const until = Math.min(Date.now() + waitMs, call.deadline > 0 ? call.deadline : Infinity);
  while (Date.now() + POLL_MS < until) {
    await sleep(POLL_MS);
    const v = await committedVersion(a, call, after.orderId);
    if (v !== undefined && v >= after.version) return;
  }
  throw new ApiError('SYNC_BEHIND', `after_order: order ${after.orderId} version ${after.version} is not in the history yet after ${waitMs} ms; retry`, {
    field: 'after_order', order_id: after.orderId, version: String(after.version), wait_ms: String(waitMs),
  });
}
