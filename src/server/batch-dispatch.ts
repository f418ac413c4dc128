import { MessageChannel } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import type { IndexedResults } from '../workers/early-results.js';
import type { CallResult, CallTask } from '../workers/task.js';

/** Hands one call's result to its waiting caller, by the call's place in the batch. */
export type Deliver = (index: number, result: CallResult) => void;

/**
 * Runs a batch on a pool and delivers each call's result as soon as its thread has it. A lone
 * call simply returns; a batch gets a MessageChannel whose far end travels with the task, and
 * its calls come back as they finish (src/workers/early-results.ts), the last ones with the
 * task's own result. Resolves once the task has ended; rejects (delivering nothing more) when
 * the thread failed, and the caller fails the calls still waiting.
 */
export async function dispatchBatch(pool: Piscina, batch: CallTask[], deliver: Deliver): Promise<void> {
  if (batch.length === 1) {
    const [only] = (await pool.run({ batch })) as CallResult[];
    deliver(0, only!);
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
