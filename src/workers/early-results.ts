import type { MessagePort } from 'node:worker_threads';
import type { CallResult } from './task.js';

/** Results by their place in the batch: what crosses back to the gateway, as plain data. */
export type IndexedResults = [index: number, result: CallResult][];

/**
 * Each call of a batch that mixes methods (the gateway gives those a port:
 * src/server/batch-dispatch.ts) answers when it is done, not when the batch's slowest call
 * is: a PlaceOrder must not wait for a GetPortfolio that waits on Postgres. Results that finish in one turn of this thread's event loop still
 * cross together (one postMessage on the batch's port, sent on the next `setImmediate`), and
 * whatever is still held when the last call finishes goes back as the task's own result, so a
 * batch whose calls all finish together costs no message beyond the task's.
 */
export class EarlyResults {
  private held: IndexedResults = [];
  private scheduled = false;

  constructor(private readonly port: MessagePort) {}

  add(index: number, result: CallResult): void {
    this.held.push([index, result]);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.send());
    }
  }

  /** The results not sent yet; the batch's task returns them. */
  rest(): IndexedResults {
    const rest = this.held;
    this.held = [];
    return rest;
  }

  private send(): void {
    this.scheduled = false;
    if (this.held.length === 0) return;
    this.port.postMessage(this.rest());
  }
}
