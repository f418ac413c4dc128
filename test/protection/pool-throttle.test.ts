/**
 * The per-process pool cap (TIERBOOK_<POOL>_MAX_RPS): a shared flood past the cap is refused
 * at once with TIER_QUEUE_FULL and a retry delay, premium is not touched, 0 means no cap.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PoolThrottle } from '../../src/server/pool-throttle.js';
import { ApiError } from '../../src/domain/errors.js';

describe('pool throttle', () => {
  it('admits the burst, refuses past it with a retry delay, and refills at the rate', () => {
    let now = 0;
    const t = new PoolThrottle({ premium: 0, shared: 100 }, () => now);
    // Burst: a tenth of a second of rate = 10 calls.
    for (let i = 0; i < 10; i++) t.take('LITE');
    const err = (() => { try { t.take('PRO'); } catch (e) { return e; } })();
    assert.ok(err instanceof ApiError && err.reason === 'TIER_QUEUE_FULL' && err.code === 8);
    assert.equal(err.metadata.pool, 'shared');
    assert.equal(err.metadata.retry_delay_ms, '10');
    now += 10; // one call's worth at 100/s
    t.take('LITE');
    assert.throws(() => t.take('LITE'));
  });

  it('never throttles a pool without a cap', () => {
    const t = new PoolThrottle({ premium: 0, shared: 1 }, () => 0);
    for (let i = 0; i < 10_000; i++) t.take('ELITE');
    t.take('LITE');
    assert.throws(() => t.take('PRO'));
  });
});
