/** Property test: a batch collapses to the same final state as applying events one by one. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planBatch, verLess } from '../../src/sync/batch-plan.js';
import type { OrderState } from '../../src/domain/events.js';

const order = (id: string, ver: number): OrderState => ({
  id, coid: `c${id}`, acct: 'a', sym: 'S', side: 'BUY', type: 'LIMIT', tif: 'GTC', px: '10', qty: '5',
  filled: String(ver), notional: '0', status: 'NEW', reason: '', post: false, stp: 'CANCEL_NEWEST',
  ctime: '1', utime: String(ver), ver: String(ver), seq: '1',
});

describe('planBatch', () => {
  it('keeps the highest version of each order whatever the arrival order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('o1', 'o2', 'o3'), fc.integer({ min: 1, max: 50 })), { maxLength: 60 }), (updates) => {
        const entries = updates.map(([id, ver], i) => ({ stream: '{bk:S}:events', id: `1-${i}`, fields: ['k', 'order', 'd', JSON.stringify({ change: 'amended', order: order(id, ver) })] }));
        const model = new Map<string, number>();
        for (const [id, ver] of updates) model.set(id, Math.max(model.get(id) ?? 0, ver));
        const plan = planBatch(entries);
        assert.deepEqual(new Map(plan.orders.map((o) => [o.id, Number(o.ver)])), model);
        for (const o of plan.orders) assert.equal(o.utime, o.ver, 'the whole latest state, not a mix');
      }),
    );
  });

  it("upserts the order states a fill carries, against order events by version", () => {
    // Matching writes no order event for a state a fill carries (a maker's fills, a taker's
    // fills up to FILLED): the fill's [maker, taker] states are the only record of them.
    const fill = (id: string, maker: OrderState, taker: OrderState) => ({
      id, sym: 'S', px: '10', qty: '1', time: '1', maker: { order: maker.id, coid: '', acct: 'm', side: 'SELL' },
      taker: { order: taker.id, coid: '', acct: 't', side: 'BUY' }, positions: [], orders: [maker, taker],
    });
    const ev = (i: number, k: string, d: unknown) => ({ stream: '{bk:S}:events', id: `1-${i}`, fields: ['k', k, 'd', JSON.stringify(d)] });
    const plan = planBatch([
      ev(0, 'order', { change: 'accepted', order: order('m', 1) }),
      ev(1, 'order', { change: 'accepted', order: order('t', 1) }),
      ev(2, 'fill', fill('F1', order('m', 2), order('t', 2))),
      ev(3, 'fill', fill('F2', order('m', 3), order('t', 3))),
      // An older state replayed after them changes nothing.
      ev(4, 'order', { change: 'accepted', order: order('m', 1) }),
    ]);
    assert.deepEqual(plan.rejected, []);
    assert.deepEqual(new Map(plan.orders.map((o) => [o.id, o.ver])), new Map([['m', '3'], ['t', '3']]));
    assert.deepEqual(plan.placed.map((p) => p.ver), ['1', '1'], 'the placement is the oldest state');
    assert.deepEqual(plan.fills.map((f) => f.id), ['F1', 'F2']);
    const bad = planBatch([ev(0, 'fill', fill('F3', { ...order('m', 2), filled: 'x' }, order('t', 2)))]);
    assert.match(bad.rejected[0]?.reason ?? '', /filled is not an integer/);
  });

  it('orders version strings like the integers they spell', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 70n }), fc.bigInt({ min: 0n, max: 2n ** 70n }), (a, b) => {
        assert.equal(verLess(String(a), String(b)), a < b);
      }),
    );
  });

  it('rejects undecodable entries with a reason instead of throwing', () => {
    const plan = planBatch([
      { stream: 's', id: '1-0', fields: ['k', 'order', 'd', '{'] },
      { stream: 's', id: '1-1', fields: [] },
      { stream: 's', id: '1-2', fields: ['k', 'order', 'd', JSON.stringify({ change: 'accepted', order: { ...order('x', 1), px: '1.5' } })] },
      { stream: 's', id: '1-3', fields: ['k', 'order', 'd', JSON.stringify({ change: 'accepted', order: order('ok', 1) })] },
    ]);
    assert.equal(plan.rejected.length, 3);
    assert.match(plan.rejected[2]?.reason ?? '', /px is not an integer/);
    assert.deepEqual(plan.orders.map((o) => o.id), ['ok']);
  });
});
