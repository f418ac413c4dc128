/**
 * The chaos bench's figures (bench/chaos-report.ts) mean what docs/loadtest.md says: the
 * outage runs from the first failed call sent to the last one ended, "OK again" is the OK
 * answer of the first call sent after the last failure, calls held through a fault (not
 * failed) show as time without an OK answer, and failures before the kill are not the fault's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CallRecord } from '../../bench/chaos-load.js';
import { longestWithoutOk, outage, syncLag } from '../../bench/chaos-report.js';

const KILL = 100_000;
const call = (sentAt: number, endAt: number, code = 'OK'): CallRecord => ({ method: 'PlaceOrder', sentAt: KILL + sentAt, endAt: KILL + endAt, code });

test('outage and recovery are read off the failed calls after the kill', () => {
  const calls = [
    call(-5_000, -4_000, 'DEADLINE_EXCEEDED'), // the load's own error, before the fault
    call(-100, 50, 'UNAVAILABLE'), // in flight when the part died
    call(200, 210, 'UNAVAILABLE'),
    call(1_500, 1_510, 'UNAVAILABLE'),
    call(1_400, 1_700), // sent before the last failure: not proof of recovery
    call(1_600, 1_650),
    call(1_800, 1_810),
  ];
  const o = outage(calls, KILL);
  assert.deepEqual(o.failedByStatus, { UNAVAILABLE: 3 });
  assert.equal(o.outageS, 1.61); // -0.1 s sent .. 1.51 s ended
  assert.equal(o.okAgainS, 1.65); // the call sent at 1.6 s, answered at 1.65 s
});

test('no failure: no outage; calls held through the fault show as time without an OK answer', () => {
  const held = [call(-50, 0), call(100, 2_600), call(200, 2_610), call(2_700, 2_710)];
  const o = outage(held, KILL);
  assert.deepEqual(o.failedByStatus, {});
  assert.equal(o.outageS, undefined);
  assert.equal(longestWithoutOk(held, KILL, KILL + 3_000), 2.6);
});

test('the sync lag is back when an order acknowledged after the kill arrives within the lag seen before it', () => {
  const samples = [
    { ackAt: KILL - 2_000, foundAt: KILL - 1_850 }, // normal: 150 ms
    { ackAt: KILL + 10, foundAt: KILL + 4_000 }, // the sync was down
    { ackAt: KILL + 4_010, foundAt: KILL + 4_100 },
  ];
  assert.deepEqual(syncLag(samples, KILL), { normalLagMs: 150, lagBackS: 4.1 });
});
