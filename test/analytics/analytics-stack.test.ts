/**
 * AnalyticsService end to end: real orders through nginx, the gateway and the matching
 * scripts, the real sync thread writing Postgres, then every account-scoped RPC against
 * hand-computed figures; freshness through a warm cache; paging under concurrent fills;
 * empty accounts; bad input; a Postgres statement timeout surfacing as QUERY_TIMEOUT.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  AnalyticsService, GetAccountStatsRequestSchema, GetAccountStatsResponseSchema, GetPortfolioRequestSchema,
  GetPortfolioResponseSchema, ListTradesRequestSchema, ListTradesResponseSchema, StatsWindow,
} from '../../src/gen/tierbook/v1/analytics_service_pb.js';
import { OrderService, PlaceOrderRequestSchema, PlaceOrderResponseSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { Liquidity, OrderType, Side } from '../../src/gen/tierbook/v1/types_pb.js';
import { accountVersionKey, startSyncThread, type SyncThread } from '../../src/sync/index.js';
import { expectError, TestClient } from '../support/grpc-client.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { writeInstruments } from './support/harness.js';

let stack: TestStack;
let sync: SyncThread;
let alice: TestClient; // PRO: shared pool, 300 s cache TTL
let bob: TestClient; // ELITE: premium pool, 60 s cache TTL
let aliceId: string;
const clients: TestClient[] = [];

async function client(tier: 'LITE' | 'PRO' | 'ELITE' | 'BLACK'): Promise<[TestClient, string]> {
  const acct = await stack.createAccount(tier);
  const c = new TestClient(stack.target, acct.apiKey);
  clients.push(c);
  return [c, acct.accountId];
}

const place = (c: TestClient, side: Side, px: bigint, qty: bigint, symbol = 'AAA') =>
  c.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, { symbol, side, type: OrderType.LIMIT, priceTicks: px, quantityLots: qty });
const portfolio = (c: TestClient) => c.unary(AnalyticsService, 'GetPortfolio', GetPortfolioRequestSchema, GetPortfolioResponseSchema, {});
const trades = (c: TestClient, req: Parameters<typeof c.unary<typeof ListTradesRequestSchema, typeof ListTradesResponseSchema>>[4] = {}) =>
  c.unary(AnalyticsService, 'ListTrades', ListTradesRequestSchema, ListTradesResponseSchema, req);
const stats = (c: TestClient, window = StatsWindow.STATS_WINDOW_30D) =>
  c.unary(AnalyticsService, 'GetAccountStats', GetAccountStatsRequestSchema, GetAccountStatsResponseSchema, { window });

async function eventually<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  stack = await startTestStack({ env: {
    TIERBOOK_INSTRUMENTS_FILE: writeInstruments(),
    TIERBOOK_SYNC_DISCOVER_INTERVAL_MS: '100',
    // These tests create books at runtime, not listed in the instruments file.
    TIERBOOK_SYNC_SCAN_INTERVAL_MS: '100',
    TIERBOOK_SYNC_LINGER_MS: '2',
  } });
  sync = await startSyncThread(stack.config, pino({ level: 'silent' }));
  [alice, aliceId] = await client('PRO');
  [bob] = await client('ELITE');
  // Five fills on AAA, hand-computed below (average-cost, exact).
  await place(bob, Side.SELL, 1000n, 10n);
  await place(alice, Side.BUY, 1000n, 4n); // F1 4 @ 1000
  await place(alice, Side.BUY, 1010n, 6n); // F2 6 @ 1000 (the maker's price)
  await place(alice, Side.SELL, 1100n, 3n);
  await place(bob, Side.BUY, 1100n, 3n); // F3 3 @ 1100: alice realizes +300, bob -300
  await place(bob, Side.BUY, 990n, 2n);
  await place(alice, Side.SELL, 990n, 2n); // F4 2 @ 990: alice -20, bob +20
  await place(bob, Side.SELL, 1001n, 1n);
  await place(alice, Side.BUY, 1001n, 1n); // F5 1 @ 1001: both add to their positions
  await eventually('five fills in Postgres', async () => Number((await stack.sql`SELECT count(*)::int AS n FROM fills`)[0]!.n), (n) => n === 5);
  await eventually('positions synced', async () => (await stack.sql`SELECT quantity::text AS q FROM positions WHERE account_id = ${aliceId}`)[0]?.q, (q) => q === '6');
});

after(async () => {
  for (const c of clients) c.close();
  await sync?.stop();
  await stack?.stop();
});

describe('GetPortfolio', () => {
  test('positions with exact average price, realized and unrealized PnL at the last trade price', async () => {
    const a = await portfolio(alice);
    assert.equal(a.positions.length, 1);
    const p = a.positions[0]!;
    assert.deepEqual([p.symbol, p.quantityLots, p.averagePriceTicks, p.realizedPnl, p.markPriceTicks, p.unrealizedPnl], ['AAA', 6n, '1000.166666666667', '280', 1001n, '5']);
    assert.deepEqual([a.totalRealizedPnl, a.totalUnrealizedPnl], ['280', '5']);
    const b = await portfolio(bob);
    const q = b.positions[0]!;
    assert.deepEqual([q.quantityLots, q.averagePriceTicks, q.realizedPnl, q.unrealizedPnl], [-6n, '1000.166666666667', '-280', '-5']);
  });

  test('an empty account has no positions and zero totals', async () => {
    const [lite] = await client('LITE');
    const r = await portfolio(lite);
    assert.deepEqual([r.positions.length, r.totalRealizedPnl, r.totalUnrealizedPnl], [0, '0', '0']);
    assert.ok(r.asOfTime);
  });
});

describe('GetAccountStats', () => {
  test('volume, notional, fills, realized PnL, win rate and average size over 30 days', async () => {
    const s = await stats(alice);
    assert.deepEqual([s.window, s.volumeLots, s.notional, s.fillCount, s.realizedPnl, s.winRate, s.averageFillLots],
      [StatsWindow.STATS_WINDOW_30D, 16n, '16281', 5n, '280', '0.5', '3.2']);
    const t = await stats(bob, StatsWindow.STATS_WINDOW_TODAY);
    assert.deepEqual([t.volumeLots, t.notional, t.fillCount, t.realizedPnl, t.winRate], [16n, '16281', 5n, '-280', '0.5']);
  });

  test('an empty account has zeros; an unset window is INVALID_ARGUMENT', async () => {
    const [lite] = await client('LITE');
    const s = await stats(lite, StatsWindow.STATS_WINDOW_7D);
    assert.deepEqual([s.volumeLots, s.notional, s.fillCount, s.realizedPnl, s.winRate, s.averageFillLots], [0n, '0', 0n, '0', '0', '0']);
    const e = await expectError(stats(lite, StatsWindow.STATS_WINDOW_UNSPECIFIED));
    assert.deepEqual([e.code, e.reason], [3, 'INVALID_FIELD']);
  });
});

describe('freshness', () => {
  test('after a fill, a warm portfolio cache reflects it within the sync lag, not after the TTL', async () => {
    assert.equal((await portfolio(alice)).positions[0]!.quantityLots, 6n); // warm (PRO TTL: 300 s)
    await place(bob, Side.SELL, 1001n, 2n);
    const version = async () => Number((await stack.redis.get(accountVersionKey(aliceId))) ?? 0);
    const before = await version();
    const t0 = Date.now();
    await place(alice, Side.BUY, 1001n, 2n); // F6
    // The sync commits F6, acknowledges it, then bumps alice's account version: from that
    // moment on, the very first read must show the fill (a cache that waited for its TTL
    // would still answer 6 here).
    await eventually('the sync committed F6', version, (v) => v > before, 10_000);
    const lagMs = Date.now() - t0;
    const fresh = await portfolio(alice);
    assert.equal(fresh.positions[0]!.quantityLots, 8n, `the first read after the commit (${lagMs} ms after the fill)`);
    assert.equal(fresh.positions[0]!.averagePriceTicks, '1000.375'); // 8003 / 8
    assert.ok(lagMs < 5_000, `visible after ${lagMs} ms`);
  });
});

describe('ListTrades', () => {
  test('newest first, paged by an opaque token, stable under a concurrent fill', async () => {
    const p1 = await trades(alice, { pageSize: 4 });
    assert.deepEqual(p1.fills.map((f) => f.quantityLots), [2n, 1n, 2n, 3n]); // F6, F5, F4, F3
    const f5 = p1.fills[1]!;
    assert.deepEqual([f5.symbol, f5.side, f5.priceTicks, f5.liquidity], ['AAA', Side.BUY, 1001n, Liquidity.TAKER]);
    assert.equal(p1.fills[3]!.liquidity, Liquidity.MAKER);
    assert.notEqual(p1.nextPageToken, '');
    // A new fill lands between the pages: it is newer than the cursor, so page two is unchanged.
    await place(bob, Side.SELL, 1001n, 1n);
    await place(alice, Side.BUY, 1001n, 1n);
    await eventually('F7 synced', async () => Number((await stack.sql`SELECT count(*)::int AS n FROM fills`)[0]!.n), (n) => n === 7);
    const p2 = await trades(alice, { pageSize: 4, pageToken: p1.nextPageToken });
    assert.deepEqual(p2.fills.map((f) => f.quantityLots), [6n, 4n]); // F2, F1
    assert.equal(p2.nextPageToken, '');
    // A page boundary exactly at the end: no empty trailing page.
    const all = await trades(alice, { pageSize: 7 });
    assert.deepEqual([all.fills.length, all.nextPageToken], [7, '']);
    const ids = all.fills.map((f) => f.fillId);
    assert.equal(new Set(ids).size, 7);
  });

  test('filters by symbol and time range', async () => {
    assert.equal((await trades(alice, { symbol: 'BBB' })).fills.length, 0);
    assert.equal((await trades(alice, { symbol: 'AAA' })).fills.length, 7);
    assert.equal((await trades(alice, { startTime: timestampFromMs(Date.now() + 60_000) })).fills.length, 0);
    assert.equal((await trades(alice, { endTime: timestampFromMs(Date.now() - 3_600_000) })).fills.length, 0);
  });

  test('bad input is INVALID_ARGUMENT', async () => {
    const cases: [Parameters<typeof trades>[1], string][] = [
      [{ pageSize: 1001 }, 'INVALID_FIELD'],
      [{ pageSize: -1 }, 'INVALID_FIELD'],
      [{ pageToken: 'not-a-token' }, 'INVALID_PAGE_TOKEN'],
      [{ symbol: 'NOPE' }, 'UNKNOWN_SYMBOL'],
      [{ startTime: timestampFromMs(2_000), endTime: timestampFromMs(1_000) }, 'INVALID_FIELD'],
    ];
    for (const [req, reason] of cases) {
      const e = await expectError(trades(alice, req));
      assert.deepEqual([e.code, e.reason], [3, reason], reason);
    }
    // A token is bound to its filters.
    const p = await trades(alice, { pageSize: 1 });
    const e = await expectError(trades(alice, { pageSize: 1, symbol: 'AAA', pageToken: p.nextPageToken }));
    assert.equal(e.reason, 'INVALID_PAGE_TOKEN');
  });
});

describe('Postgres statement timeout per tier', () => {
  test('a query past the tier timeout is DEADLINE_EXCEEDED with reason QUERY_TIMEOUT', async () => {
    const [elite] = await client('ELITE'); // 20 ms
    await stack.sql.begin(async (tx) => {
      await tx`LOCK TABLE positions IN ACCESS EXCLUSIVE MODE`;
      const e = await expectError(portfolio(elite));
      assert.deepEqual([e.code, e.reason], [4, 'QUERY_TIMEOUT']);
    });
    assert.equal((await portfolio(elite)).positions.length, 0, 'fine again once the lock is gone');
  });
});
