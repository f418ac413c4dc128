import { setTimeout as sleep } from 'node:timers/promises';

/**
 * SQLSTATE classes that mean "try the same thing again later" rather than "this event is bad":
 * the connection or the server is going away or busy (08 connection, 53 resources, 57
 * operator intervention such as a shutdown, 40 serialization/deadlock, 58 system error,
 * 55P03 lock timeout), or the database's schema does not match this code (42 undefined
 * table or column, 3F undefined schema: a migration not applied yet) — that fails every
 * event alike, so dead-lettering them would empty the streams into the dead-letter streams.
 * Everything else with a SQLSTATE (bad data, a constraint) would fail again identically for
 * that event: the batch has a poison event in it.
 */
const TRANSIENT_CLASSES = new Set(['08', '53', '57', '40', '58', '42', '3F']);

/** True when an error says Postgres (or the network) is unavailable rather than the data bad. */
export function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return true; // no SQLSTATE: a socket error, a timeout
  if (/^[0-9A-Z]{5}$/.test(code)) return TRANSIENT_CLASSES.has(code.slice(0, 2)) || code === '55P03';
  return true; // postgres.js and node codes: CONNECTION_CLOSED, ECONNREFUSED, ...
}

/** Exponential back-off with jitter, capped; `reset` after a success. */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  /** Waits before the next attempt; resolves early (false) when `signal` aborts. */
  async wait(signal?: AbortSignal): Promise<boolean> {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 20));
    this.attempt++;
    try {
      await sleep(ceiling / 2 + Math.random() * (ceiling / 2), undefined, { signal });
      return true;
    } catch {
      return false;
    }
  }

  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}
