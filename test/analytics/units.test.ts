/**
 * The exact arithmetic under the analytics API: decimal formatting, the average-cost replay
 * (hand-computed fixtures plus a property check of conservation), candle folding, page tokens.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatRatio, parseDecimal } from '../../src/domain/decimal.js';
import { applyFill, StatsReplay, type ReplayPosition } from '../../src/workers/analytics/position-replay.js';
import { bucketOf, candlesIn, mergeFills, type CandleRow } from '../../src/workers/analytics/candle-math.js';
import { decodeTradeToken, encodeTradeToken, filterFingerprint } from '../../src/workers/analytics/trade-page-token.js';
import { continuation } from '../../src/workers/analytics/get-candles.js';
import { ApiError } from '../../src/domain/errors.js';

describe('formatRatio', () => {
  const cases: [bigint, bigint, string][] = [
    [0n, 5n, '0'], [10n, 1n, '10'], [-10n, 1n, '-10'], [5n, 2n, '2.5'], [-5n, 2n, '-2.5'], [5n, -2n, '-2.5'],
    [1n, 3n, '0.333333333333'], [2n, 3n, '0.666666666667'], [6001n, 6n, '1000.166666666667'],
    [1n, 8n, '0.125'], [16n, 5n, '3.2'], [-1n, 3n, '-0.333333333333'],
    [123456789012345678901234567890n, 10n, '12345678901234567890123456789'],
    [-1n, 10n ** 13n, '0'], // rounds to zero: never "-0"
  ];
  for (const [n, d, want] of cases) test(`${n}/${d} = ${want}`, () => assert.equal(formatRatio(n, d), want));

  test('half to even at the last digit', () => {
    assert.equal(formatRatio(5n, 2n, 0), '2');
    assert.equal(formatRatio(7n, 2n, 0), '4');
    assert.equal(formatRatio(-5n, 2n, 0), '-2');
    assert.equal(formatRatio(25n, 1000n, 2), '0.02');
    assert.equal(formatRatio(35n, 1000n, 2), '0.04');
  });

  test('refuses a zero denominator', () => assert.throws(() => formatRatio(1n, 0n), RangeError));

  test('terminating ratios round-trip exactly', () => {
    fc.assert(fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.integer({ min: 0, max: 12 }), (n, s) => {
      const d = 10n ** BigInt(s);
      const { numerator, denominator } = parseDecimal(formatRatio(n, d));
      assert.equal(numerator * d, n * denominator);
    }));
  });
});

describe('average-cost replay', () => {
  test('hand-computed sequence: open, add, close with profit and loss, flip', () => {
    const p: ReplayPosition = { qty: 0n, cost: 0n };
    assert.deepEqual(applyFill(p, 4n, 1000n), { realized: 0n, closing: false });
    applyFill(p, 6n, 1000n);
    assert.deepEqual(p, { qty: 10n, cost: 10000n });
    assert.deepEqual(applyFill(p, -3n, 1100n), { realized: 300n, closing: true });
    assert.deepEqual(p, { qty: 7n, cost: 7000n });
    assert.deepEqual(applyFill(p, -2n, 990n), { realized: -20n, closing: true });
    // Flip: close 5 at 1200 (+1000), open 3 short at 1200.
    assert.deepEqual(applyFill(p, -8n, 1200n), { realized: 1000n, closing: true });
    assert.deepEqual(p, { qty: -3n, cost: -3600n });
  });

  test('rounding residue stays with the open lots: a closed position released its whole cost', () => {
    const p: ReplayPosition = { qty: 0n, cost: 0n };
    applyFill(p, 1n, 100n);
    applyFill(p, 1n, 101n);
    applyFill(p, 1n, 101n); // cost 302 over 3 lots
    const r1 = applyFill(p, -1n, 100n).realized; // releases floor(302/3) = 100
    const r2 = applyFill(p, -2n, 100n).realized; // releases the remaining 202
    assert.equal(r1, 0n);
    assert.equal(r2, -2n);
    assert.deepEqual(p, { qty: 0n, cost: 0n });
  });

  test('property: two counterparties conserve quantity and their realized PnL cancels once both are flat', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: -50, max: 50 }).filter((q) => q !== 0), fc.integer({ min: 1, max: 10_000 })), { maxLength: 60 }), (trades) => {
      const a: ReplayPosition = { qty: 0n, cost: 0n };
      const b: ReplayPosition = { qty: 0n, cost: 0n };
      let ra = 0n;
      let rb = 0n;
      for (const [q, px] of trades) {
        ra += applyFill(a, BigInt(q), BigInt(px)).realized;
        rb += applyFill(b, BigInt(-q), BigInt(px)).realized;
      }
      assert.equal(a.qty + b.qty, 0n);
      // Flatten both at one price: then total realized PnL of a zero-sum pair is zero.
      if (a.qty !== 0n) {
        const q = a.qty;
        ra += applyFill(a, -q, 777n).realized;
        rb += applyFill(b, q, 777n).realized;
      }
      assert.equal(ra + rb, 0n);
      assert.deepEqual([a.cost, b.cost], [0n, 0n]);
    }));
  });

  test('window totals count only fills from the window start, replaying earlier ones', () => {
    const r = new StatsReplay(1000n);
    r.add('X', 'BUY', 100n, 10n, 500n); // before the window: opens the position only
    r.add('X', 'SELL', 110n, 4n, 1000n); // +40, a win
    r.add('X', 'SELL', 90n, 2n, 2000n); // -20, a loss
    r.add('Y', 'BUY', 5n, 3n, 3000n); // opening
    assert.deepEqual(r.totals, { volume: 9n, notional: 440n + 180n + 15n, fills: 3n, realized: 20n, closing: 2n, wins: 1n });
  });
});

describe('candles', () => {
  const W = 60_000n;
  test('buckets are epoch-aligned', () => {
    assert.equal(bucketOf(125_000n, W), 120_000n);
    assert.equal(bucketOf(120_000n, W), 120_000n);
  });

  test('merging tail fills extends the newest candle and opens new ones, gaps stay absent', () => {
    const base: CandleRow[] = [[0n, 100n, 105n, 98n, 98n, 4n, 3n]];
    const merged = mergeFills(base, [
      { seq: 4n, timeMs: 59_000n, price: 110n, qty: 1n },
      { seq: 5n, timeMs: 180_000n, price: 90n, qty: 2n },
    ], W, 0n, 240_000n);
    assert.deepEqual(merged, [[0n, 100n, 110n, 98n, 110n, 5n, 4n], [180_000n, 90n, 90n, 90n, 90n, 2n, 1n]]);
    assert.deepEqual(base[0], [0n, 100n, 105n, 98n, 98n, 4n, 3n], 'the cached base is not modified');
    assert.deepEqual(candlesIn(merged, 60_000n, 240_000n), [merged[1]]);
  });

  test('a tail continues a base only without a gap in fill sequence', () => {
    const base = { x: '-', n0: 5n, from: 0n, rows: [] };
    const f = (seq: bigint) => ({ seq, timeMs: 0n, price: 1n, qty: 1n });
    assert.deepEqual(continuation(base, [f(4n), f(5n), f(6n)], 6n), { fills: [f(5n), f(6n)], gap: false, complete: true });
    assert.equal(continuation(base, [f(6n)], 6n).gap, true);
    assert.deepEqual(continuation(base, [], 4n), { fills: [], gap: false, complete: true });
    assert.equal(continuation(base, [f(5n)], 7n).complete, false);
  });
});

describe('ListTrades page tokens', () => {
  const fp = filterFingerprint('AAA', 10n, undefined);
  test('round-trip', () => {
    assert.deepEqual(decodeTradeToken(encodeTradeToken({ timeMs: 123n, fillId: 'AAA:F9' }, fp), fp), { timeMs: 123n, fillId: 'AAA:F9' });
  });
  for (const [what, raw] of [['garbage', 'nope!'], ['not json', Buffer.from('xx').toString('base64url')], ['other filters', encodeTradeToken({ timeMs: 1n, fillId: 'A' }, 'B||')]]) {
    test(`refuses ${what}`, () => {
      assert.throws(() => decodeTradeToken(raw!, fp), (e: unknown) => e instanceof ApiError && e.reason === 'INVALID_PAGE_TOKEN');
    });
  }
});
