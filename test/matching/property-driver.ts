/**
 * The property test's moving parts, shared by the standalone and the cluster runs: random
 * command sequences (fast-check), a runner that applies each command to the Redis engine and
 * to the reference model and compares every result, and the final-state checks (same resting
 * book, never crossed, same orders and positions, positions sum to zero, cash conserved).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ApiError } from '../../src/domain/errors.js';
import type { OrderState } from '../../src/domain/events.js';
import { eventStreamKey } from '../../src/domain/events.js';
import { validateInstruments, type Instrument } from '../../src/domain/matching/instrument.js';
import { accountBookKey, levelQtyKey, levelsKey, orderKey, queueKey } from '../../src/domain/matching/keys.js';
import type { OrderInput } from '../../src/domain/matching/order-input.js';
import { ReferenceExchange, type ModelResult } from '../../src/domain/matching/reference-model.js';
import { publishInstruments } from '../../src/workers/orders/instruments-store.js';
import { OrderEngine, type EngineResult } from '../../src/workers/orders/order-engine.js';
import type { RedisLike } from '../../src/workers/orders/scripts.js';
import { TEST_INSTRUMENTS } from './harness.js';

export const INSTRUMENTS: Instrument[] = validateInstruments(TEST_INSTRUMENTS, 'test');
const ACCOUNTS = ['a1', 'a2', 'a3'];

/**
 * Cancels and amends name an order by `pick`: at run time it selects one of the account's
 * own orders (so most hit something real), or a random id when `pick` is negative.
 * `retry` sends the previous place again, byte for byte (idempotent replay).
 */
export type Command =
  | { op: 'place'; acct: string; input: OrderInput }
  | { op: 'retry' }
  | { op: 'cancel'; acct: string; id: string; pick: number }
  | { op: 'amend'; acct: string; id: string; pick: number; pxStep: number | null; lots: number | null; px: bigint; qty: bigint };

/** Per symbol: prices around the reference (some outside the band), quantities on the lot grid. */
const SHAPES: Record<string, { px: [number, number]; near: [number, number]; tick: number; lot: number; lots: [number, number] }> = {
  AAA: { px: [760, 1240], near: [996, 1004], tick: 1, lot: 1, lots: [1, 60] },
  BBB: { px: [180, 225], near: [199, 201], tick: 5, lot: 10, lots: [1, 20] },
  CCC: { px: [40, 160], near: [97, 103], tick: 1, lot: 1, lots: [1, 80] },
};

/** Mostly prices near the reference (so orders cross), sometimes anywhere (band checks). */
function priceOf(s: (typeof SHAPES)[string], step: number): bigint {
  const [lo, hi] = step % 10 === 0 ? s.px : s.near;
  return BigInt((lo + (Math.floor(step / 10) % (hi - lo + 1))) * s.tick);
}

const symbolArb = fc.constantFrom(...Object.keys(SHAPES));
const acctArb = fc.constantFrom(...ACCOUNTS);

const placeArb = fc.record({
  acct: acctArb, sym: symbolArb, buy: fc.boolean(), market: fc.integer({ min: 0, max: 9 }),
  tif: fc.constantFrom('GTC', 'GTC', 'IOC', 'FOK') as fc.Arbitrary<'GTC' | 'IOC' | 'FOK'>,
  pxStep: fc.integer({ min: 0, max: 1000 }), lots: fc.integer({ min: 1, max: 80 }),
  post: fc.integer({ min: 0, max: 9 }), stp: fc.constantFrom('CANCEL_NEWEST', 'CANCEL_OLDEST', 'CANCEL_BOTH') as fc.Arbitrary<OrderInput['stp']>,
  coid: fc.option(fc.constantFrom('k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8'), { freq: 2 }),
}).map(({ acct, sym, buy, market, tif, pxStep, lots, post, stp, coid }): Command => {
  const s = SHAPES[sym]!;
  const isMarket = market === 0;
  // Orders that cannot rest mostly bid up / offer down, so they find something to take.
  const aggressive = tif !== 'GTC' && pxStep % 3 !== 0;
  const px = aggressive ? BigInt((buy ? s.near[1] : s.near[0]) * s.tick) : priceOf(s, pxStep);
  const qty = BigInt((s.lots[0] + (lots % (s.lots[1] - s.lots[0] + 1))) * s.lot);
  return {
    op: 'place', acct,
    input: {
      symbol: sym, side: buy ? 'BUY' : 'SELL', type: isMarket ? 'MARKET' : 'LIMIT',
      tif: isMarket ? (tif === 'GTC' ? 'IOC' : tif) : tif, price: isMarket ? 0n : px, qty,
      coid: coid ?? '', postOnly: !isMarket && tif === 'GTC' && post === 0, stp,
    },
  };
});

const idArb = fc.tuple(symbolArb, fc.integer({ min: 1, max: 12 })).map(([s, n]) => `${s}:${n}`);
const pickArb = fc.integer({ min: -1, max: 50 });
const cancelArb = fc.record({ acct: acctArb, id: idArb, pick: pickArb }).map((c): Command => ({ op: 'cancel', ...c }));
const amendArb = fc.record({ acct: acctArb, id: idArb, pick: pickArb, pxStep: fc.option(fc.integer({ min: 0, max: 1000 })), lots: fc.option(fc.integer({ min: 1, max: 80 })) })
  .map(({ acct, id, pick, pxStep, lots }): Command => ({ op: 'amend', acct, id, pick, pxStep, lots, px: 0n, qty: 0n }));

/** An amend's new values on the grid of the symbol of the order it ended up naming. */
function resolveAmend(c: Extract<Command, { op: 'amend' }>): Command {
  const s = SHAPES[c.id.slice(0, 3)]!;
  const px = c.pxStep === null ? 0n : priceOf(s, c.pxStep);
  const qty = c.lots === null ? 0n : BigInt((s.lots[0] + (c.lots % (s.lots[1] - s.lots[0] + 1))) * s.lot);
  return { ...c, px, qty: px === 0n && qty === 0n ? BigInt(s.lot) : qty };
}

/** Sequences of commands, mostly places (so books fill up), some cancels and amends. */
export function commandsArb(maxLength: number): fc.Arbitrary<Command[]> {
  const retryArb = fc.constant<Command>({ op: 'retry' });
  return fc.array(fc.oneof({ arbitrary: placeArb, weight: 12 }, { arbitrary: retryArb, weight: 1 }, { arbitrary: cancelArb, weight: 3 }, { arbitrary: amendArb, weight: 4 }), { minLength: Math.min(10, maxLength), maxLength, size: 'max' });
}

async function runEngine(engine: OrderEngine, c: Command): Promise<EngineResult | ApiError> {
  try {
    if (c.op === 'place') return await engine.place(c.acct, c.input);
    if (c.op === 'cancel') return await engine.cancel(c.acct, { orderId: c.id });
    if (c.op === 'retry') throw new Error('retry is resolved by the runner');
    return await engine.amend(c.acct, { orderId: c.id }, c.px, c.qty);
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
}

function runModel(model: ReferenceExchange, c: Command): ModelResult {
  if (c.op === 'place') return model.place(c.acct, c.input);
  if (c.op === 'cancel') return model.cancel(c.acct, c.id);
  if (c.op === 'retry') throw new Error('retry is resolved by the runner');
  return model.amend(c.acct, c.id, c.px, c.qty);
}

function orderView(o: OrderState) {
  return { id: o.id, status: o.status, reason: o.reason, px: o.px, qty: o.qty, filled: o.filled, notional: o.notional };
}

/** Wipes every node (a cluster has several) and lists the instruments again. */
export async function resetRedis(redis: RedisLike, flushAll: () => Promise<unknown>): Promise<void> {
  await flushAll();
  await publishInstruments(redis, INSTRUMENTS);
}

/** Applies the commands to both sides, comparing each result, then the final state. */
export async function runAndCompare(redis: RedisLike, commands: Command[]): Promise<void> {
  const engine = new OrderEngine(redis);
  const model = new ReferenceExchange(INSTRUMENTS);
  let lastPlace: Command | undefined;
  for (const [i, raw] of commands.entries()) {
    let c: Command = raw;
    if (c.op === 'retry') {
      if (!lastPlace) continue;
      c = lastPlace;
      countOutcome('retry');
    }
    if (c.op === 'place') lastPlace = c;
    if ((c.op === 'cancel' || c.op === 'amend') && c.pick >= 0) {
      const acct = c.acct;
      const own = [...model.orders.values()].filter((o) => o.acct === acct);
      if (own.length > 0) c = { ...c, id: own[c.pick % own.length]!.id };
    }
    if (c.op === 'amend') c = resolveAmend(c);
    const stpBefore = stpCancels(model);
    const got = await runEngine(engine, c);
    const want = runModel(model, c);
    // Which self-trade mode acted (the outcome key alone cannot tell CANCEL_OLDEST apart).
    if (c.op === 'place' && stpCancels(model) > stpBefore) countOutcome(`stp.${c.input.stp}`);
    const where = `command ${i}: ${JSON.stringify(c, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`;
    countOutcome('error' in want ? `${c.op}:${want.error}` : `${c.op}${c.op === 'place' ? '.' + c.input.type + '.' + c.input.tif : ''}:${want.order.status}:${want.order.reason}:${want.fills.length > 0 ? 'fills' : 'nofills'}`);
    if ('error' in want) {
      assert.ok(got instanceof ApiError, `${where}: engine succeeded, model refused with ${want.error}`);
      assert.equal(got.reason, want.error, where);
      continue;
    }
    assert.ok(!(got instanceof ApiError), `${where}: engine refused with ${got instanceof ApiError ? got.reason : ''}`);
    const m = want.order;
    assert.deepEqual(orderView(got.order), {
      id: m.id, status: m.status, reason: m.reason, px: String(m.px), qty: String(m.qty), filled: String(m.filled), notional: String(m.notional),
    }, where);
    assert.deepEqual(
      got.fills.map((f) => ({ id: f.id, px: f.px, qty: f.qty, maker: f.maker.order, taker: f.taker.order })),
      want.fills.map((f) => ({ id: f.id, px: String(f.px), qty: String(f.qty), maker: f.maker, taker: f.taker })),
      where,
    );
  }
  await checkFinalState(redis, model);
}

async function checkFinalState(redis: RedisLike, model: ReferenceExchange): Promise<void> {
  for (const inst of INSTRUMENTS) {
    const sym = inst.symbol;
    const bidLevels = await redis.zrevrange(levelsKey(sym, 'B'), '0', '-1');
    const askLevels = await redis.zrange(levelsKey(sym, 'S'), '0', '-1');
    const ids = async (side: 'B' | 'S', levels: string[]) =>
      (await Promise.all(levels.map((p) => redis.zrange(queueKey(sym, side, p), '0', '-1')))).flat();
    const book = { bids: await ids('B', bidLevels), asks: await ids('S', askLevels) };
    assert.deepEqual(book, model.restingIds(sym), `resting book of ${sym}`);
    if (bidLevels[0] && askLevels[0]) assert.ok(BigInt(bidLevels[0]) < BigInt(askLevels[0]), `${sym} book is crossed`);
    // Each level's resting lots, kept by the scripts for depth, equal the sum over its orders.
    for (const side of ['B', 'S'] as const) {
      const want: Record<string, string> = {};
      for (const o of model.orders.values()) {
        const working = o.status === 'NEW' || o.status === 'PARTIALLY_FILLED';
        if (o.sym !== sym || !working || (o.side === 'BUY') !== (side === 'B')) continue;
        want[String(o.px)] = String(BigInt(want[String(o.px)] ?? '0') + BigInt(o.qty) - BigInt(o.filled));
      }
      assert.deepEqual({ ...(await redis.hgetall(levelQtyKey(sym, side))) }, want, `level lots of ${sym} ${side}`);
    }
    let sumQty = 0n;
    let sumCash = 0n;
    for (const acct of ACCOUNTS) {
      const h = await redis.hgetall(accountBookKey(sym, acct, 'pos'));
      const p = model.position(acct, sym);
      const got = { qty: h.qty ?? '0', cost: h.cost ?? '0', realized: h.realized ?? '0', ob: h.ob ?? '0', os: h.os ?? '0' };
      assert.deepEqual(got, { qty: String(p.qty), cost: String(p.cost), realized: String(p.realized), ob: String(p.ob), os: String(p.os) }, `position of ${acct} in ${sym}`);
      assert.ok(p.qty <= inst.positionLimitLots && -p.qty <= inst.positionLimitLots, `position limit of ${acct} in ${sym}`);
      sumQty += p.qty;
      sumCash += p.realized - p.cost;
    }
    assert.equal(sumQty, 0n, `positions in ${sym} sum to zero`);
    assert.equal(sumCash, 0n, `cash flows in ${sym} cancel`);
  }
  for (const o of model.orders.values()) {
    const h = await redis.hgetall(orderKey(o.sym, o.id));
    assert.deepEqual(
      { status: h.status, reason: h.reason, filled: h.filled, qty: h.qty, px: h.px },
      { status: o.status, reason: o.reason, filled: String(o.filled), qty: String(o.qty), px: String(o.px) },
      `stored order ${o.id}`,
    );
  }
  // Every fill the model made is in the event stream, exactly once.
  for (const [sym, book] of model.books) {
    const entries = await redis.xrange(eventStreamKey(sym), '-', '+');
    const fills = entries.filter(([, f]) => f[1] === 'fill').length;
    assert.equal(fills, book.fid, `fill events of ${sym}`);
  }
}

function stpCancels(model: ReferenceExchange): number {
  let n = 0;
  for (const o of model.orders.values()) if (o.reason === 'SELF_TRADE_PREVENTED') n++;
  return n;
}

/**
 * The outcomes a run must reach, or it has not tested them: FOK killed and filled, each
 * self-trade mode, amends that rest, shrink a partly filled order and trade, post-only
 * refusals, partial fills, duplicate client order ids and idempotent replays.
 */
export const REQUIRED_OUTCOMES = [
  'place.LIMIT.FOK:EXPIRED:NO_LIQUIDITY:nofills',
  'place.LIMIT.FOK:FILLED::fills',
  'stp.CANCEL_NEWEST',
  'stp.CANCEL_OLDEST',
  'stp.CANCEL_BOTH',
  'amend:NEW::nofills',
  'amend:PARTIALLY_FILLED::nofills',
  'amend:FILLED::fills',
  'place.LIMIT.GTC:REJECTED:POST_ONLY_WOULD_TAKE:nofills',
  'place.LIMIT.GTC:PARTIALLY_FILLED::fills',
  'place.LIMIT.IOC:EXPIRED:NO_LIQUIDITY:fills',
  'place:DUPLICATE_CLIENT_ORDER_ID',
  'retry',
];

/** Outcome counts over a run, to show the generators reach every path. */
export const coverage = new Map<string, number>();
export function countOutcome(key: string): void {
  coverage.set(key, (coverage.get(key) ?? 0) + 1);
}
