/**
 * The rollups behind GetCandles and GetAccountStats (migrations/0004_rollups.sql) against a
 * straightforward computation over the raw fills: randomized engine-like histories written by
 * the real sync writer in batches that arrive out of order, twice, overlapping and two at a
 * time; and a database upgraded with fills already in it (the migration's backfill), then
 * written on by the live path.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import type postgres from 'postgres';
import type { FillEvent } from '../../src/domain/events.js';
import { bookStateKey } from '../../src/domain/matching/keys.js';
import { CandleInterval, GetCandlesRequestSchema, GetCandlesResponseSchema } from '../../src/gen/tierbook/v1/analytics_service_pb.js';
import { planBatch } from '../../src/sync/batch-plan.js';
import { writePlan } from '../../src/sync/pg-writer.js';
import { analyticsContext } from '../../src/workers/analytics/analytics-context.js';
import { accountTotals } from '../../src/workers/analytics/get-account-stats.js';
import { StatsReplay, type WindowTotals } from '../../src/workers/analytics/position-replay.js';
import { fillEntries, FillHistory } from './support/fill-history.js';
import { ok, startHarness, type Harness } from './support/harness.js';

const DAY = 86_400_000;
const SYMBOLS = ['AAA', 'BBB'];
const ACCOUNTS = ['ra', 'rb', 'rc', 'rd', 're'];
/** Every call computes (no cache), with room for a loaded test box. */
const ENV = { TIERBOOK_CACHE_TTL_MS_PRO: '0', TIERBOOK_PG_TIMEOUT_MS_PRO: '5000' };

// ---- the reference: raw fills, one by one ----

/** [start, open, high, low, close, volume, count] of the candles of `sym` in [from, to). */
function referenceCandles(fills: readonly FillEvent[], sym: string, width: number, from: number, to: number): bigint[][] {
  const byStart = new Map<number, { os: number; cs: number; c: bigint[] }>();
  for (const f of fills) {
    const t = Number(f.time);
    if (f.sym !== sym || t < from || t >= to) continue;
    const seq = Number(f.id.slice(sym.length + 2));
    const px = BigInt(f.px);
    const b = t - (t % width);
    const e = byStart.get(b);
    if (!e) {
      byStart.set(b, { os: seq, cs: seq, c: [BigInt(b), px, px, px, px, BigInt(f.qty), 1n] });
      continue;
    }
    if (seq < e.os) [e.os, e.c[1]] = [seq, px];
    if (seq > e.cs) [e.cs, e.c[4]] = [seq, px];
    if (px > e.c[2]!) e.c[2] = px;
    if (px < e.c[3]!) e.c[3] = px;
    e.c[5]! += BigInt(f.qty);
    e.c[6]! += 1n;
  }
  return [...byStart.keys()].sort((x, y) => x - y).map((b) => byStart.get(b)!.c);
}

/** The account's totals from `fromMs` by replaying all its fills in book order. */
function referenceTotals(fills: readonly FillEvent[], acct: string, fromMs: number): WindowTotals {
  const replay = new StatsReplay(BigInt(fromMs));
  const seq = (f: FillEvent) => Number(f.id.slice(f.sym.length + 2));
  const mine = fills.filter((f) => f.maker.acct === acct || f.taker.acct === acct)
    .sort((x, y) => (x.sym < y.sym ? -1 : x.sym > y.sym ? 1 : seq(x) - seq(y)));
  for (const f of mine) replay.add(f.sym, f.maker.acct === acct ? f.maker.side : f.taker.side, BigInt(f.px), BigInt(f.qty), BigInt(f.time));
  return replay.totals;
}

// ---- delivery: the sync's batches, as badly ordered as two hosts and redelivery make them ----

/** Writes `fills` through the real planner and writer; returns whether batches went out of order. */
async function deliver(h: Harness, history: FillHistory, fills: readonly FillEvent[]): Promise<boolean> {
  const entries = fillEntries(fills);
  const rnd = history.rnd;
  const chunks: (typeof entries)[] = [];
  for (let i = 0; i < entries.length; ) {
    const n = 1 + Math.floor(rnd() * 40);
    chunks.push(entries.slice(i, i + n));
    i += n;
  }
  const schedule = chunks.map((c, i) => ({ c, i }));
  for (let i = 0; i + 1 < schedule.length; i++) if (rnd() < 0.3) [schedule[i], schedule[i + 1]] = [schedule[i + 1]!, schedule[i]!];
  for (let i = 0; i < chunks.length; i++) {
    const at = Math.floor(rnd() * schedule.length);
    if (rnd() < 0.2) schedule.splice(at, 0, { c: chunks[i]!, i }); // redelivered
    if (rnd() < 0.1 && i + 1 < chunks.length) schedule.splice(at, 0, { c: [...chunks[i]!.slice(1), ...chunks[i + 1]!.slice(0, 5)], i }); // overlapping
  }
  let outOfOrder = false;
  for (let k = 0, highest = -1; k < schedule.length; ) {
    const n = rnd() < 0.3 ? 2 : 1; // sometimes two batches commit concurrently
    const step = schedule.slice(k, k + n);
    k += n;
    for (const s of step) {
      if (s.i < highest) outOfOrder = true;
      highest = Math.max(highest, s.i);
    }
    await Promise.all(step.map((s) => writePlan(h.sql, planBatch(s.c))));
  }
  return outOfOrder;
}

// ---- comparisons through the read paths ----

const INTERVALS: [CandleInterval, number, number, number][] = [
  // interval, width, range start offset from the history start, range length
  [CandleInterval.CANDLE_INTERVAL_1M, 60_000, 2 * DAY, 3 * DAY],
  [CandleInterval.CANDLE_INTERVAL_5M, 300_000, 0, 15 * DAY],
  [CandleInterval.CANDLE_INTERVAL_1H, 3_600_000, -DAY, 60 * DAY],
  [CandleInterval.CANDLE_INTERVAL_1D, DAY, -DAY, 60 * DAY],
];

async function checkCandles(h: Harness, history: FillHistory, startMs: number): Promise<void> {
  for (const sym of SYMBOLS) {
    await h.redis.hset(bookStateKey(sym), 'fill', String(history.count(sym)));
    for (const [iv, width, offset, span] of INTERVALS) {
      const from = startMs + offset - ((startMs + offset) % width);
      // The aligned end of the range, and ends inside a candle (just after and just at a fill).
      const inside = history.fills.filter((f) => f.sym === sym && Number(f.time) > from + width && Number(f.time) < from + span);
      const pick = Number(inside[Math.floor(history.rnd() * inside.length)]!.time);
      for (const end of [from + span, pick + 1, pick, pick - (pick % 60_000) + 59_999]) {
        const res = ok(await h.call('GetCandles', GetCandlesRequestSchema, { symbol: sym, interval: iv, startTime: timestampFromMs(from), endTime: timestampFromMs(end) }, GetCandlesResponseSchema));
        const got = res.candles.map((c) => [BigInt(timestampMs(c.startTime!)), c.openTicks, c.highTicks, c.lowTicks, c.closeTicks, c.volumeLots, c.tradeCount]);
        const want = referenceCandles(history.fills, sym, width, from, end);
        assert.ok(want.length > 0, `${sym} ${CandleInterval[iv]}: the range has fills`);
        assert.deepEqual(got, want, `${sym} ${CandleInterval[iv]} to ${end}`);
      }
    }
  }
}

async function checkTotals(h: Harness, history: FillHistory, startMs: number, endMs: number): Promise<void> {
  const a = await analyticsContext(h.ctx);
  const rnd = history.rnd;
  for (const acct of ACCOUNTS) {
    const froms = [startMs - DAY, startMs, endMs - 30 * DAY, endMs - 7 * DAY];
    for (let i = 0; i < 12; i++) {
      const t = Math.floor(startMs + rnd() * (endMs - startMs));
      // Arbitrary instants and ones aligned to a minute, an hour and a day (edges of the rollups).
      froms.push(t, t - (t % 60_000), t - (t % 3_600_000), t - (t % DAY));
    }
    for (const from of froms) {
      assert.deepEqual(await accountTotals(a, 'PRO', acct, BigInt(from)), referenceTotals(history.fills, acct, from), `${acct} from ${from}`);
    }
  }
}

async function unresolved(sql: postgres.Sql): Promise<number> {
  return (await sql`SELECT count(*)::int AS n FROM account_fills WHERE realized IS NULL`)[0]!.n as number;
}

describe('rollups on the live path', () => {
  let h: Harness;
  const startMs = Date.now() - 35 * DAY;
  const history = new FillHistory({ seed: 12, symbols: SYMBOLS, accounts: ACCOUNTS, startMs, meanGapMs: 4 * 3_600_000 });
  before(async () => { h = await startHarness(ENV); });
  after(async () => { await h?.stop(); });

  test('batches out of order, redelivered, overlapping and concurrent: every fill counted once', async () => {
    const fills = history.add(600);
    assert.ok(await deliver(h, history, fills), 'the schedule delivered batches out of order');
    assert.equal((await h.sql`SELECT count(*)::int AS n FROM fills`)[0]!.n, 600);
    assert.equal(await unresolved(h.sql), 0, 'every fill knows what it realized');
  });

  test('candles from the rollups equal candles folded from the raw fills, every interval, aligned or not', async () => {
    await checkCandles(h, history, startMs);
  });

  test('account totals from the rollups equal a replay of the raw fills, from any instant', async () => {
    await checkTotals(h, history, startMs, Number(history.fills.at(-1)!.time));
  });
});

describe('rollups after an upgrade (the migration backfills)', () => {
  let h: Harness;
  const startMs = Date.now() - 40 * DAY;
  const history = new FillHistory({ seed: 34, symbols: SYMBOLS, accounts: ACCOUNTS, startMs, meanGapMs: 3 * 3_600_000 });
  const old = history.add(400);

  before(async () => {
    h = await startHarness(ENV, { beforeUpgrade: { upgradeFrom: 4, seed: async (sql) => {
      // What the sync wrote before rollups existed: fills and the positions' latest state.
      for (const f of old) {
        await sql`INSERT INTO fills (fill_id, symbol, price, quantity, executed_at, maker_order_id, maker_coid, maker_account_id, maker_side, taker_order_id, taker_coid, taker_account_id, taker_side)
          VALUES (${f.id}, ${f.sym}, ${f.px}, ${f.qty}, tierbook_ms(${f.time}), ${f.maker.order}, '', ${f.maker.acct}, ${f.maker.side}, ${f.taker.order}, '', ${f.taker.acct}, ${f.taker.side})`;
      }
      for (const p of history.positions.values()) {
        await sql`INSERT INTO positions (account_id, symbol, quantity, cost_basis, realized_pnl, ver) VALUES (${p.acct}, ${p.sym}, ${p.qty}, ${p.cost}, ${p.realized}, ${p.ver})`;
      }
    } } });
  });
  after(async () => { await h?.stop(); });

  test('an upgraded database answers as a replay of its fills', async () => {
    assert.equal(await unresolved(h.sql), 0);
    await checkCandles(h, history, startMs);
    await checkTotals(h, history, startMs, Number(old.at(-1)!.time));
  });

  test('live fills after the upgrade continue the backfilled positions', async () => {
    await deliver(h, history, history.add(200));
    assert.equal(await unresolved(h.sql), 0);
    await checkCandles(h, history, startMs);
    await checkTotals(h, history, startMs, Number(history.fills.at(-1)!.time));
  });
});
