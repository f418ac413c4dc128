/**
 * The batch size target of the sync loop. A batch closes when it reaches the target or when
 * its linger time runs out. A batch that filled up means events arrive faster than we write
 * them, so the target doubles (fewer, larger transactions); a batch that closed on time far
 * below target means we are idle, so it halves back (small batches, low latency).
 */
export class AdaptiveBatch {
  private size: number;

  constructor(
    private readonly min: number,
    private readonly max: number,
  ) {
    this.size = min;
  }

  /** How many events the next batch may take. */
  get target(): number {
    return this.size;
  }

  /** Feeds back how many events the batch that just closed held. */
  closed(count: number): void {
    if (count >= this.size) this.size = Math.min(this.max, this.size * 2);
    else if (count < this.size / 4) this.size = Math.max(this.min, Math.floor(this.size / 2));
  }
}
