/**
 * Trace context reaches the sync: a call's W3C traceparent rides on the stream events it
 * produces (a `tp` field, only when the call had one), and the sync's log line and dead
 * letter for such an event name the same trace. Real gateway behind nginx, real Redis and
 * Postgres; Postgres is made to refuse one order (a CHECK constraint) so its events are
 * dead-lettered by the real sync loop.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Side, OrderType, TimeInForce } from '../../src/gen/tierbook/v1/types_pb.js';
import {
  CancelOrderRequestSchema, CancelOrderResponseSchema, OrderService, PlaceOrderRequestSchema, PlaceOrderResponseSchema,
} from '../../src/gen/tierbook/v1/order_service_pb.js';
import { eventStreamKey } from '../../src/domain/events.js';
import { loadConfig } from '../../src/shared/config.js';
import { deadLetterKey } from '../../src/sync/dead-letter.js';
import { startSyncService, type SyncService } from '../../src/sync/sync-service.js';
import { TestClient } from '../support/grpc-client.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from './support/pg-state.js';

const PLACED_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CANCEL_TRACE = '0af7651916cd43dd8448eb211c80319c';
/** The price Postgres is made to refuse (ticks). */
const REFUSED_PX = 1_800_300n;

let stack: TestStack;
before(async () => {
  stack = await startTestStack();
  await stack.sql.unsafe(`ALTER TABLE orders ADD CONSTRAINT trace_test_refuses CHECK (price <> ${REFUSED_PX})`);
});
after(async () => {
  await stack?.stop();
});

/** A client whose calls carry `traceparent` when given. */
function client(apiKey: string, traceparent?: string): TestClient {
  return new (class extends TestClient {
    override metadata() {
      const md = super.metadata();
      if (traceparent) md.set('traceparent', traceparent);
      return md;
    }
  })(stack.target, apiKey);
}

const order = (coid: string, px: bigint) => ({
  symbol: 'AAPL', side: Side.BUY, type: OrderType.LIMIT, timeInForce: TimeInForce.GTC, priceTicks: px, quantityLots: 2n, clientOrderId: coid,
});

/** The AAPL stream entries about one order: their field lists. */
async function entriesOf(orderId: string): Promise<string[][]> {
  const all = await stack.redis.xrange(eventStreamKey('AAPL'), '-', '+');
  return all.map(([, f]) => f).filter((f) => (JSON.parse(f[f.indexOf('d') + 1]!) as { order?: { id?: string } }).order?.id === orderId);
}

test("a call's traceparent is on its stream events, and the sync's dead-letter log and row name that trace", async (t) => {
  const acct = await stack.createAccount('PRO', 'trace-events');
  const placedTp = `00-${PLACED_TRACE}-00f067aa0ba902b7-01`;
  const traced = client(acct.apiKey, placedTp);
  const placed = await traced.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, order('traced-1', REFUSED_PX));
  traced.close();
  const cancelTp = `00-${CANCEL_TRACE}-b7ad6b7169203331-00`;
  const canceller = client(acct.apiKey, cancelTp);
  await canceller.unary(OrderService, 'CancelOrder', CancelOrderRequestSchema, CancelOrderResponseSchema, { orderId: placed.order!.orderId });
  canceller.close();
  const plain = client(acct.apiKey);
  const untraced = await plain.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, order('plain-1', 1_800_400n));
  // An upper-case (invalid, W3C) header is no context: nothing is carried.
  const badHeader = client(acct.apiKey, `00-${PLACED_TRACE.toUpperCase()}-00f067aa0ba902b7-01`);
  const invalid = await badHeader.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, order('bad-tp-1', 1_800_500n));
  plain.close();
  badHeader.close();

  // The stored events: `tp` only on the traced calls' entries, each with its own call's value.
  const tracedEntries = await entriesOf(placed.order!.orderId);
  t.diagnostic(`stream entries of ${placed.order!.orderId}: ${JSON.stringify(tracedEntries.map((f) => f.filter((_, i) => i % 2 === 0)))}`);
  assert.equal(tracedEntries.length, 2, 'accepted, then canceled');
  assert.deepEqual(tracedEntries.map((f) => f[f.indexOf('tp') + 1]), [placedTp, cancelTp]);
  for (const id of [untraced.order!.orderId, invalid.order!.orderId]) {
    const entries = await entriesOf(id);
    assert.ok(entries.length > 0);
    for (const f of entries) assert.deepEqual([f[0], f[2], f.length], ['k', 'd', 4], `no tp field on ${id}'s entries`);
  }

  // The sync, with a log we can read: Postgres refuses the traced order, so its events are
  // dead-lettered, and the log line and the dead-letter row carry the trace.
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const config = loadConfig({
    TIERBOOK_REDIS_URL: stack.config.redisUrl,
    TIERBOOK_DATABASE_URL: stack.config.databaseUrl,
    TIERBOOK_SYNC_MAX_ATTEMPTS: '2',
    TIERBOOK_SYNC_MAX_BACKOFF_MS: '200',
  });
  let sync: SyncService | undefined;
  try {
    sync = await startSyncService(config, logger);
    await eventually('the untraced order reached Postgres', async () =>
      (await stack.sql`SELECT 1 FROM orders WHERE order_id = ${untraced.order!.orderId}`).length === 1, 20_000);
    await eventually('both events of the refused order were dead-lettered', async () => lines.filter((l) => l.msg === 'event dead-lettered').length === 2, 20_000);
  } finally {
    await sync?.stop();
  }
  const dead = lines.filter((l) => l.msg === 'event dead-lettered');
  for (const l of dead) t.diagnostic(`sync: ${JSON.stringify({ msg: l.msg, id: l.id, traceId: l.traceId, parentId: l.parentId, reason: l.reason })}`);
  assert.deepEqual(dead.map((l) => [l.traceId, l.parentId]), [[PLACED_TRACE, '00f067aa0ba902b7'], [CANCEL_TRACE, 'b7ad6b7169203331']]);
  const retried = lines.filter((l) => l.msg === 'event failed; retrying');
  assert.ok(retried.length > 0 && retried.every((l) => l.traceId === PLACED_TRACE || l.traceId === CANCEL_TRACE), 'the retry lines name the trace too');
  const rows = await stack.redis.xrange(deadLetterKey(eventStreamKey('AAPL')), '-', '+');
  assert.deepEqual(rows.map(([, f]) => f[f.indexOf('tp') + 1]), [placedTp, cancelTp], 'the dead-letter rows keep the tp field');
});
