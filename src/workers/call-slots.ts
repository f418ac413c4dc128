/**
 * At most `size` calls of a worker thread run at once; the rest wait here in arrival order.
 * Calls reach a thread in batches (src/server/call-batcher.ts), so this, not Piscina, is
 * where a thread's concurrency is bounded and where a queued call waits: its deadline and
 * cancellation are checked when it gets a slot, not when it arrived.
 */
export class CallSlots {
  private free: number;
  private readonly waiters: (() => void)[] = [];

  constructor(size: number) {
    this.free = size;
  }

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}
