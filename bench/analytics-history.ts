/**
 * Does a call's cost grow with history? (DESIGN invariant 9.) Seeds a private Postgres and
 * Redis through the real sync writer with a symbol/account that has 1,000 fills and one that
 * has 100,000, both spread over the last 40 days, then times, handler by handler exactly as a
 * worker thread runs them (ELITE tier: its 20 ms statement timeout, cache off so every call
 * reads Postgres):
 *   GetCandles 1d over the last 30 days, and GetAccountStats over 30 days,
 * for each, and prints p50 / p99 and the ratio big/small. The same run times the queries the
 * rollups replaced (an aggregate over every raw fill of the range, a replay of the account's
 * whole history) on the same data, as the baseline.
 *
 *   node dist/bench/analytics-history.js [--calls 500] [--big 100000] [--small 1000]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { bookStateKey } from '../src/domain/matching/keys.js';
import { CandleInterval, GetAccountStatsRequestSchema, GetAccountStatsResponseSchema, GetCandlesRequestSchema, GetCandlesResponseSchema, StatsWindow } from '../src/gen/tierbook/v1/analytics_service_pb.js';
import { projectRoot } from '../src/shared/paths.js';
import { planBatch } from '../src/sync/batch-plan.js';
import { writePlan } from '../src/sync/pg-writer.js';
import { StatsReplay } from '../src/workers/analytics/position-replay.js';
import { fillEntries, FillHistory } from '../test/analytics/support/fill-history.js';
import { ok, startHarness, type Harness } from '../test/analytics/support/harness.js';

const { values } = parseArgs({ options: {
  calls: { type: 'string', default: '500' },
  big: { type: 'string', default: '100000' },
  small: { type: 'string', default: '1000' },
} });
const CALLS = Number(values.calls);
const DAY = 86_400_000;
const SPAN = 40 * DAY;
/** The generated fills end before now (the gaps are random): they span about this. */
const FILLED = 36 * DAY;
const BATCH = 2_000;

/** One book whose fills all involve `account` (against five counterparties). */
async function seed(h: Harness, symbol: string, account: string, fills: number, seed: number): Promise<void> {
  const cps = [1, 2, 3, 4, 5].map((i) => `${account}-cp${i}`);
  // Mean gap so that `fills` span about SPAN (see the gap mix in fill-history.ts).
  const meanGapMs = Math.max(1, (FILLED / fills - 9_000) / 0.65);
  const history = new FillHistory({
    seed, symbols: [symbol], accounts: [account, ...cps], startMs: Date.now() - SPAN, meanGapMs,
    parties: (rnd) => {
      const cp = cps[Math.floor(rnd() * cps.length)]!;
      return rnd() < 0.5 ? [account, cp] : [cp, account];
    },
  });
  for (let left = fills; left > 0; left -= BATCH) await writePlan(h.sql, planBatch(fillEntries(history.add(Math.min(BATCH, left)))));
  await h.redis.hset(bookStateKey(symbol), 'fill', String(history.count(symbol)));
  const last = history.fills.at(-1)!;
  console.log(`  ${symbol}: ${fills} fills for ${account}, ${new Date(Number(history.fills[0]!.time)).toISOString()} .. ${new Date(Number(last.time)).toISOString()}`);
}

interface Timing { p50: number; p99: number; mean: number; errors: number }

/**
 * Runs `a` and `b` alternately `n` times each, so both see the same background load (the box
 * is shared), and returns the timing of each.
 */
async function timePair(n: number, a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[Timing, Timing]> {
  const ms: [number[], number[]] = [[], []];
  const errors = [0, 0];
  for (let i = 0; i < n; i++) {
    for (const k of [0, 1] as const) {
      const t = performance.now();
      try {
        await (k === 0 ? a : b)();
      } catch {
        errors[k]!++;
      }
      ms[k].push(performance.now() - t);
    }
  }
  return [summarize(ms[0], errors[0]!), summarize(ms[1], errors[1]!)];
}

function summarize(ms: number[], errors: number): Timing {
  ms.sort((x, y) => x - y);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!;
  return { p50: at(0.5), p99: at(0.99), mean: ms.reduce((x, y) => x + y, 0) / ms.length, errors };
}

/** The candle query before rollups: every raw fill of the range, aggregated per bucket. */
async function rawCandles(h: Harness, symbol: string, from: number): Promise<unknown> {
  return h.sql`
    SELECT b, (array_agg(price ORDER BY seq))[1] AS o, max(price) AS h, min(price) AS l,
      (array_agg(price ORDER BY seq DESC))[1] AS c, sum(quantity) AS v, count(*) AS n
    FROM (SELECT price, quantity, tierbook_fill_seq(fill_id, symbol) AS seq,
        tierbook_epoch_ms(executed_at) / ${DAY} AS b
      FROM fills WHERE symbol = ${symbol} AND executed_at >= tierbook_ms(${from})) f
    GROUP BY b ORDER BY b`;
}

/** The stats computation before rollups: a replay of the account's whole history. */
async function replayStats(h: Harness, account: string, from: number): Promise<unknown> {
  const replay = new StatsReplay(BigInt(from));
  const cursor = h.sql<{ symbol: string; side: 'BUY' | 'SELL'; px: string; qty: string; t: string }[]>`
    SELECT symbol, CASE WHEN maker_account_id = ${account} THEN maker_side ELSE taker_side END AS side,
      price::text AS px, quantity::text AS qty, tierbook_epoch_ms(executed_at)::text AS t
    FROM fills WHERE maker_account_id = ${account} OR taker_account_id = ${account}
    ORDER BY symbol, tierbook_fill_seq(fill_id, symbol)`.cursor(1000);
  for await (const rows of cursor) for (const r of rows) replay.add(r.symbol, r.side, BigInt(r.px), BigInt(r.qty), BigInt(r.t));
  return replay.totals;
}

const f = (t: Timing) => `p50 ${t.p50.toFixed(2).padStart(7)} ms  p99 ${t.p99.toFixed(2).padStart(7)} ms  mean ${t.mean.toFixed(2).padStart(7)} ms  errors ${t.errors}`;

async function main(): Promise<void> {
  const big = Number(values.big);
  const small = Number(values.small);
  const h = await startHarness({ TIERBOOK_CACHE_TTL_MS_ELITE: '0' });
  const lines: string[] = [];
  const out = (s: string) => { console.log(s); lines.push(s); };
  try {
    out(`analytics history bench: ${small} vs ${big} fills, ${CALLS} calls each, ELITE tier (20 ms statement timeout), cache off`);
    const t0 = performance.now();
    await seed(h, 'AAA', 'small-acct', small, 1);
    await seed(h, 'BBB', 'big-acct', big, 2);
    out(`  seeded through the sync writer in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await h.sql`VACUUM ANALYZE`;
    const from = Date.now() - 30 * DAY;
    const candles = (symbol: string) => async () => {
      const res = ok(await h.call('GetCandles', GetCandlesRequestSchema, { symbol, interval: CandleInterval.CANDLE_INTERVAL_1D, startTime: timestampFromMs(from) }, GetCandlesResponseSchema, { tier: 'ELITE' }));
      if (res.candles.length < 25) throw new Error(`only ${res.candles.length} candles`);
    };
    const stats = (accountId: string) => async () => {
      const res = ok(await h.call('GetAccountStats', GetAccountStatsRequestSchema, { window: StatsWindow.STATS_WINDOW_30D }, GetAccountStatsResponseSchema, { tier: 'ELITE', accountId }));
      if (res.fillCount === 0n) throw new Error('no fills');
    };
    const rows: [string, () => Promise<unknown>, () => Promise<unknown>, number][] = [
      ['GetCandles 1d x 30 days', candles('AAA'), candles('BBB'), CALLS],
      ['GetAccountStats 30 days', stats('small-acct'), stats('big-acct'), CALLS],
      ['before: raw-fill candle aggregate', () => rawCandles(h, 'AAA', from), () => rawCandles(h, 'BBB', from), 20],
      ['before: history replay for stats', () => replayStats(h, 'small-acct', from), () => replayStats(h, 'big-acct', from), 5],
    ];
    for (const [name, a, b, n] of rows) {
      await timePair(Math.min(50, n), a, b); // warm both: connections, plans, caches
      const [ta, tb] = await timePair(n, a, b);
      out(`  ${name}`);
      out(`    ${String(small).padStart(6)} fills  ${f(ta)}`);
      out(`    ${String(big).padStart(6)} fills  ${f(tb)}`);
      out(`    ratio big/small: p50 ${(tb.p50 / ta.p50).toFixed(2)}  p99 ${(tb.p99 / ta.p99).toFixed(2)}`);
    }
  } finally {
    await h.stop();
  }
  const dir = join(projectRoot, 'bench', 'results', `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-history`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'summary.txt'), lines.join('\n') + '\n');
  console.log(`results in ${dir}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
