/**
 * The book scripts write their replies and stream events as JSON by hand (common.lua, for
 * speed); account ids are free-form, so one with quotes, backslashes and control characters
 * must come back byte for byte in the reply, in every event and in the fill's positions.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { eventStreamKey } from '../../src/domain/events.js';
import type { OrderInput } from '../../src/domain/matching/order-input.js';
import { OrderEngine } from '../../src/workers/orders/order-engine.js';
import { publishInstruments } from '../../src/workers/orders/instruments-store.js';
import { validateInstruments } from '../../src/domain/matching/instrument.js';
import { startTestRedis, type TestServer } from '../support/servers.js';
import { TEST_INSTRUMENTS } from './harness.js';

let srv: TestServer;
let redis: Redis;
before(async () => {
  srv = await startTestRedis();
  redis = new Redis(srv.url);
  await publishInstruments(redis, validateInstruments(TEST_INSTRUMENTS, 'test'));
});
after(async () => { redis.disconnect(); await srv.stop(); });

const order = (o: Partial<OrderInput>): OrderInput => ({
  symbol: 'AAA', side: 'BUY', type: 'LIMIT', tif: 'GTC', price: 1000n, qty: 2n, coid: '', postOnly: false, stp: 'CANCEL_NEWEST', ...o,
});

test('free-form account ids survive the hand-written JSON of replies and events', async () => {
  const engine = new OrderEngine(redis);
  const maker = 'm"a\\ker\n\t/ü';
  const taker = 'plain-taker';
  const rested = await engine.place(maker, order({ side: 'SELL', coid: 'c-1' }));
  assert.equal(rested.order.acct, maker);
  const took = await engine.place(taker, order({ qty: 1n }));
  assert.equal(took.fills.length, 1);
  assert.equal(took.fills[0]!.maker.acct, maker);
  assert.equal(took.fills[0]!.maker.coid, 'c-1');
  assert.equal(took.fills[0]!.taker.acct, taker);
  const canceled = await engine.cancel(maker, { coid: 'c-1' });
  assert.equal(canceled.order.status, 'CANCELED');
  assert.equal(canceled.order.acct, maker);

  const entries = await redis.xrange(eventStreamKey('AAA'), '-', '+');
  const docs = entries.map(([, f]) => ({ k: f[1], d: JSON.parse(f[3]!) as Record<string, any> }));
  const accts = docs.flatMap(({ k, d }) => k === 'fill'
    ? [d.maker.acct, d.taker.acct, ...d.positions.map((p: { acct: string }) => p.acct), ...d.orders.map((o: { acct: string }) => o.acct)]
    : [d.order.acct]);
  assert.deepEqual([...new Set(accts)].sort(), [maker, taker].sort());
  const fill = docs.find((x) => x.k === 'fill')!.d;
  assert.deepEqual(fill.positions.map((p: { acct: string; qty: string }) => [p.acct, p.qty]), [[maker, '-1'], [taker, '1']]);
  assert.equal(typeof fill.orders[0].post, 'boolean');
});
