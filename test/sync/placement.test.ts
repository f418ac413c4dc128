import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FillEvent, OrderState } from '../../src/domain/events.js';
import { placementResult } from '../../src/sync/rebuild/placement.js';

/** The first reply a retry gets after a rebuild, reconstructed from the order's latest state. */
const base: OrderState = {
  id: 'AAPL:7', coid: 'c-7', acct: 'a1', sym: 'AAPL', side: 'BUY', type: 'LIMIT', tif: 'GTC',
  px: '1900000', qty: '10', filled: '0', notional: '0', status: 'NEW', reason: '', post: false,
  stp: 'CANCEL_NEWEST', ctime: '1000', utime: '1000', ver: '1', seq: '7',
};
const reply = (o: OrderState, fills: FillEvent[] = []) =>
  (JSON.parse(placementResult(o, { px: o.px, qty: o.qty }, fills)) as { o: OrderState }).o;

test('an order its owner canceled in the same millisecond as its placement was answered NEW', () => {
  const got = reply({ ...base, status: 'CANCELED', reason: 'CANCELED_BY_OWNER', ver: '2' });
  assert.deepEqual([got.status, got.reason, got.ver, got.filled], ['NEW', '', '1', '0']);
});

test('an order canceled by self-trade prevention inside its place script keeps that answer', () => {
  const got = reply({ ...base, status: 'CANCELED', reason: 'SELF_TRADE_PREVENTED', ver: '2' });
  assert.deepEqual([got.status, got.reason], ['CANCELED', 'SELF_TRADE_PREVENTED']);
});

test('an order filled later as a maker was answered with only its taker fills', () => {
  const fill = { id: 'AAPL:F1', sym: 'AAPL', px: '1900000', qty: '4', time: '1000', maker: { order: 'AAPL:3', coid: '', acct: 'a2', side: 'SELL' }, taker: { order: 'AAPL:7', coid: 'c-7', acct: 'a1', side: 'BUY' }, positions: [] } as FillEvent;
  const got = reply({ ...base, status: 'FILLED', filled: '10', notional: '19000000', utime: '2000', ver: '3' }, [fill]);
  assert.deepEqual([got.status, got.filled, got.notional], ['PARTIALLY_FILLED', '4', '7600000']);
});
