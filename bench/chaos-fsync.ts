/**
 * What closing Redis's loss window costs: closed-loop PlaceOrder throughput through nginx with
 * `appendfsync everysec` (the stack's setting) and with `appendfsync always` (fsync before
 * every reply), switched live with CONFIG SET on the same stack, alternating so that other
 * load on the box falls on both alike.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createRedis } from '../src/shared/redis.js';
import { driveLoad } from '../test/ops/support/load.js';
import { crossingOrder } from './chaos-load.js';

export interface FsyncCost {
  /** PlaceOrder OK/s per mode, one figure per round. */
  everysec: number[];
  always: number[];
  failed: number;
}

export async function measureFsyncCost(opts: { target: string; redisUrl: string; apiKeys: [string, string]; seconds: number; rounds: number; concurrency: number }): Promise<FsyncCost> {
  const redis = createRedis(opts.redisUrl);
  const out: FsyncCost = { everysec: [], always: [], failed: 0 };
  try {
    // Round -1 warms the stack up (JIT, pools, connections) and is not counted.
    for (let round = -1; round < opts.rounds; round++) {
      for (const mode of ['everysec', 'always'] as const) {
        await redis.config('SET', 'appendfsync', mode);
        await sleep(200);
        const r = await driveLoad({
          target: opts.target,
          apiKey: opts.apiKeys[0],
          apiKeys: opts.apiKeys,
          // Loop k is account k % 2: buyers and sellers cross, as in the chaos load.
          order: (id, _n, loop) => crossingOrder(id, loop % 2 === 0),
          concurrency: opts.concurrency,
          durationMs: opts.seconds * 1000,
          maxCalls: 10_000_000,
          prefix: `fsync-${mode}-${round}-${Date.now()}`,
          keepAcked: false,
        });
        if (round < 0) continue;
        out[mode].push(r.ok / r.seconds);
        out.failed += r.failed;
      }
    }
  } finally {
    await redis.config('SET', 'appendfsync', 'everysec').catch(() => undefined);
    redis.disconnect();
  }
  return out;
}
