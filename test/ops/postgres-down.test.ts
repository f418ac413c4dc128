/**
 * Postgres gone (SIGKILL of the server and its backends): the calls that need it (history
 * reads of orders that left Redis, analytics) answer UNAVAILABLE / BACKEND_UNAVAILABLE at once,
 * not after the client's deadline (postgres.js would queue them through a reconnect back-off
 * that grows to 20 s); PlaceOrder does not need Postgres and keeps working; once Postgres is
 * back, the same calls answer within a second and the sync catches up with what was placed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { toJsonString } from '@bufbuild/protobuf';
import {
  GetOrderRequestSchema, GetOrderResponseSchema, OrderService, PlaceOrderRequestSchema, PlaceOrderResponseSchema,
} from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderSchema, OrderStatus, OrderType, Side, TimeInForce } from '../../src/gen/tierbook/v1/types_pb.js';
import { AnalyticsService, GetPortfolioRequestSchema, GetPortfolioResponseSchema } from '../../src/gen/tierbook/v1/analytics_service_pb.js';
import { orderKey } from '../../src/domain/matching/keys.js';
import { freePort } from '../../src/devstack/ports.js';
import { childrenOf } from '../../src/devstack/process.js';
import { startPostgres } from '../../src/devstack/postgres.js';
import { startSyncThread, type SyncThread } from '../../src/sync/index.js';
import { expectError, TestClient } from '../support/grpc-client.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { writeInstruments } from '../analytics/support/harness.js';
import { eventually } from '../sync/support/pg-state.js';

const pgDir = mkdtempSync(join(tmpdir(), 'tierbook-pgdown-'));
let pgPort: number;
let pg: Awaited<ReturnType<typeof startPostgres>>;
let stack: TestStack;
let sync: SyncThread | undefined;
const clients: TestClient[] = [];

before(async () => {
  pgPort = await freePort();
  pg = await startPostgres({ dir: pgDir, port: pgPort, unsafeFast: true });
  stack = await startTestStack({ withoutNginx: true, databaseUrl: pg.url, env: {
    TIERBOOK_INSTRUMENTS_FILE: writeInstruments(),
    TIERBOOK_ORDER_RETENTION_MS: '300',
    TIERBOOK_SYNC_TRIM_INTERVAL_MS: '200',
    TIERBOOK_SYNC_DISCOVER_INTERVAL_MS: '100',
    TIERBOOK_SYNC_LINGER_MS: '2',
    TIERBOOK_SYNC_MAX_BACKOFF_MS: '200',
  } });
  sync = await startSyncThread(stack.config, pino({ level: 'silent' }));
});

after(async () => {
  for (const c of clients) c.close();
  await sync?.stop();
  await stack?.stop().catch(() => {});
  await pg?.stop().catch(() => {});
  rmSync(pgDir, { recursive: true, force: true });
});

/**
 * Kills the postmaster and its backends at once, as a crash or the OOM killer would. Each
 * backend is a session leader of its own (Postgres calls setsid in every child), so a group
 * kill would leave them serving their connections until they notice the postmaster is gone:
 * a query sent meanwhile would still be answered. Children first, while their parent is known.
 */
function killPostgres(): void {
  for (const pid of [...childrenOf(pg.pid), pg.pid]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch { /* already gone */ }
  }
}

test('with Postgres gone, history and analytics calls get UNAVAILABLE at once, orders keep flowing, and all of it recovers', { timeout: 90_000 }, async () => {
  const a = await stack.createAccount('PRO', 'alice');
  const b = await stack.createAccount('ELITE', 'bob');
  const c = await stack.createAccount('ELITE', 'carol');
  const [alice, bob, carol] = [a, b, c].map((x) => new TestClient(stack.gatewayTarget, x.apiKey));
  // One account per round whose portfolio was never read (nothing cached): each read needs Postgres.
  const readers = await Promise.all([0, 1, 2, 3].map(async (i) => new TestClient(stack.gatewayTarget, (await stack.createAccount('ELITE', `reader-${i}`)).apiKey)));
  clients.push(alice!, bob!, carol!, ...readers);
  const place = (c: TestClient, req: Record<string, unknown>) =>
    c.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, { symbol: 'AAA', type: OrderType.LIMIT, ...req });
  const getOrder = (orderId: string) => alice!.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, { orderId }, 5_000);
  const portfolio = (c: TestClient) => c.unary(AnalyticsService, 'GetPortfolio', GetPortfolioRequestSchema, GetPortfolioResponseSchema, {}, 5_000);

  await place(bob!, { side: Side.SELL, priceTicks: 1000n, quantityLots: 10n });
  const taker = await place(alice!, { side: Side.BUY, priceTicks: 1000n, quantityLots: 10n, timeInForce: TimeInForce.IOC });
  assert.equal(taker.order!.status, OrderStatus.FILLED);
  const id = taker.order!.orderId;
  await eventually('the filled order left Redis', async () => (await stack.redis.exists(orderKey('AAA', id))) === 0);
  const answered = toJsonString(OrderSchema, (await getOrder(id)).order!);
  await portfolio(carol!); // the pools have live connections that the kill will break

  killPostgres();
  const placedWhileDown: string[] = [];
  for (let round = 0; round < 4; round++) {
    for (const [what, call] of [['GetOrder of an order only Postgres has', () => getOrder(id)], ['GetPortfolio', () => portfolio(readers[round]!)]] as const) {
      const started = Date.now();
      const e = await expectError(call()).catch((err: Error) => assert.fail(`${what}, round ${round}: ${err.message}`));
      const ms = Date.now() - started;
      assert.deepEqual([e.code, e.reason], [14, 'BACKEND_UNAVAILABLE'], `${what}, round ${round}: ${e.message}`);
      assert.match(e.message, /unavailable; retry later/);
      assert.ok(ms < 2_000, `${what}, round ${round}: answered after ${ms} ms of its 5 s deadline`);
    }
    const p = await place(bob!, { side: Side.BUY, priceTicks: 900n, quantityLots: 1n, clientOrderId: `while-down-${round}` });
    assert.equal(p.order!.status, OrderStatus.NEW, 'PlaceOrder does not need Postgres');
    placedWhileDown.push(p.order!.orderId);
    await new Promise((r) => setTimeout(r, 400));
  }

  pg = await startPostgres({ dir: pgDir, port: pgPort, unsafeFast: true });
  const back = Date.now();
  // Within a second or so of the restart (the reconnect back-off is capped at 1 s).
  await eventually('GetOrder answers from Postgres again', async () => getOrder(id).then(() => true, () => false), 5_000);
  assert.equal(toJsonString(OrderSchema, (await getOrder(id)).order!), answered, 'the same order as before the outage');
  await eventually('GetPortfolio answers again', async () => portfolio(readers[0]!).then(() => true, () => false), 5_000);
  assert.ok(Date.now() - back < 5_000);
  await eventually('the orders placed while Postgres was down are in it', async () => {
    const rows = await stack.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM orders WHERE order_id = ANY(${placedWhileDown}::text[])`.catch(() => [{ n: -1 }]);
    return rows[0]!.n === placedWhileDown.length;
  }, 20_000);
});
