import { MessageChannel } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import type { IndexedResults } from '../workers/early-results.js';
import type { CallResult, CallTask } from '../workers/task.js';

/** Hands one call's result to its waiting caller, by the call's place in the batch. */
export type Deliver = (index: number, result: CallResult) => void;

/**
 * Runs a batch on a pool and delivers each call's result as soon as its thread has it. A batch
 * of calls of one method (every call of a PlaceOrder flood, a lone call) simply returns: its
 * calls cost alike and finish together. A batch that mixes methods (a GetPortfolio waiting on
 * Postgres beside PlaceOrders) gets a MessageChannel whose far end travels with the task, and
 * its calls come back as they finish (src/workers/early-results.ts), the last ones with the
 * task's own result. Only then: a channel per batch cost 15-20 % of closed-loop PlaceOrder
 * throughput on 2 cores (docs/loadtest.md). Resolves once the task has ended; rejects
 * (delivering nothing more) when the thread failed, and the caller fails the calls still waiting.
 */
export async function dispatchBatch(pool: Piscina, batch: CallTask[], deliver: Deliver): Promise<void> {
  if (!mixesMethods(batch)) {
    const results = (await pool.run({ batch })) as CallResult[];
    results.forEach((r, i) => deliver(i, r));
    return;
  }
  const { port1, port2 } = new MessageChannel();
  let left = batch.length;
  const take = (results: IndexedResults): void => {
    for (const [i, r] of results) deliver(i, r);
    left -= results.length;
    if (left === 0) port1.close();
  };
  port1.on('message', take);
  let rest: IndexedResults;
  try {
    rest = (await pool.run({ batch, port: port2 }, { transferList: [port2] })) as IndexedResults;
  } catch (err) {
    port1.close();
    throw err;
  }
  take(rest);
  // Results posted on the port before the task ended may still be on their way: the port
  // stays open for them, without keeping the process alive.
  if (left > 0) port1.unref();
}

/** Does the batch hold calls of more than one method? */
function mixesMethods(batch: readonly CallTask[]): boolean {
  const first = batch[0]!.method;
  return batch.some((t) => t.method !== first);
}
