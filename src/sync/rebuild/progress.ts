/**
 * The rebuild's progress display: one self-updating line on a terminal, or a line every few
 * seconds when the output is a file or a pipe (logs stay readable).
 */
export class Progress {
  private done = 0;
  private started = Date.now();
  private lastPrint = 0;
  private phase = '';

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private total: number,
  ) {}

  /** Starts a named phase (e.g. a book) without resetting the overall count. */
  setPhase(phase: string): void {
    this.phase = phase;
    this.print(true);
  }

  /** Counts `n` more items done. */
  add(n: number): void {
    this.done += n;
    this.print(false);
  }

  /** The final line, with the total time. */
  finish(summary: string): void {
    const secs = ((Date.now() - this.started) / 1000).toFixed(1);
    this.out.write(`${this.out.isTTY ? '\r\x1b[K' : ''}rebuild: ${summary} in ${secs} s\n`);
  }

  private print(force: boolean): void {
    const now = Date.now();
    const every = this.out.isTTY ? 100 : 2_000;
    if (!force && now - this.lastPrint < every) return;
    this.lastPrint = now;
    const pct = this.total > 0 ? Math.min(100, Math.floor((this.done / this.total) * 100)) : 100;
    const rate = this.done / Math.max(0.001, (now - this.started) / 1000);
    const eta = rate > 0 ? Math.ceil((this.total - this.done) / rate) : 0;
    const line = `rebuild: ${bar(pct)} ${pct}% ${this.done.toLocaleString('en-US')}/${this.total.toLocaleString('en-US')} rows, ${Math.round(rate).toLocaleString('en-US')}/s, eta ${eta} s  ${this.phase}`;
    this.out.write(this.out.isTTY ? `\r\x1b[K${line}` : `${line}\n`);
  }
}

function bar(pct: number): string {
  const filled = Math.round(pct / 5);
  return `[${'#'.repeat(filled)}${'.'.repeat(20 - filled)}]`;
}
