import type { CallResult, CallTask } from '../workers/task.js';

interface Pending {
  task: CallTask;
  resolve(r: CallResult): void;
  reject(e: unknown): void;
}

/**
 * Sends the calls that arrive in one turn of the event loop to a worker thread as one task.
 * The hop between threads (a postMessage each way and a wake-up) is the largest fixed cost
 * of a call; under load many calls share it, and a lone call still leaves on the next
 * `setImmediate`, so batching adds no waiting of its own. On the way back a batch that mixes
 * methods answers each call when its own result is in, not when its slowest call is
 * (batch-dispatch.ts); a one-method batch is answered whole.
 */
export class CallBatcher {
  private pending: Pending[] = [];
  private scheduled = false;
  /** Calls submitted and not yet answered. */
  inFlight = 0;

  constructor(
    /** Runs a batch, delivering each call's result by its index as it comes (batch-dispatch.ts). */
    private readonly send: (batch: CallTask[], deliver: (index: number, result: CallResult) => void) => Promise<void>,
    /** Calls the threads run at once; more in flight than this are waiting. */
    private readonly running: number,
  ) {}

  /** Calls in flight beyond what the threads run at once. */
  get waiting(): number {
    return Math.max(0, this.inFlight - this.running);
  }

  submit(task: CallTask): Promise<CallResult> {
    this.inFlight++;
    return new Promise<CallResult>((resolve, reject) => {
      this.pending.push({ task, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    }).finally(() => {
      this.inFlight--;
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    // Each call resolves when its own result comes; a failed batch fails the calls still
    // waiting (a call already answered keeps its answer).
    this.send(batch.map((p) => p.task), (i, r) => batch[i]!.resolve(r)).catch((err: unknown) => batch.forEach((p) => p.reject(err)));
  }
}
