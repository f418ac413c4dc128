import type { Sql } from 'postgres';

/**
 * How long a call waits for Postgres before it hears "unavailable".
 *
 * postgres.js queues a query while its connection reconnects, and the reconnect waits a
 * back-off that grows to 20 s while the server is down (its default `backoff`): a read would
 * sit in that queue until the client's deadline, and the client would hear DEADLINE_EXCEEDED
 * (not retryable by AIP-194 clients) instead of UNAVAILABLE. So a request-path query gets at
 * most `waitMs` beyond its own statement timeout (the server ends a slow statement itself,
 * with its own status: only a query stuck waiting for a connection reaches the wait), and
 * after a connection failure the pool is "down" for `waitMs`: calls in that time are answered
 * at once without queueing anything, and the first call after it probes the server again.
 *
 * A wait that runs out is "down" only while the pool is recovering from a connection failure
 * (the call was queued behind a reconnect). On a pool whose last word from the server was an
 * answer, it is a slow server, not a missing one: that call hears UNAVAILABLE, the calls
 * beside it still run (a busy host once failed every read for half a second after one slow
 * connect this way).
 */
export class PgUnavailable extends Error {
  readonly code = 'PG_UNAVAILABLE';
}

/** postgres.js and server codes that mean "cannot reach the database", not "bad query". */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', '57P01', '57P02', '57P03', 'PG_UNAVAILABLE']);

export function isPgUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && CONNECTION_CODES.has(code);
}

export class PgAvailability {
  /** Calls before this are answered at once: the server just refused or dropped us. */
  private downUntil = 0;
  /** Since the last connection failure nothing has answered: the pool is reconnecting. */
  private recovering = false;

  /** `statementMs`: the pool's statement timeout (0 for none), which a query may use up first. */
  constructor(
    private readonly waitMs: number,
    private readonly statementMs = 0,
  ) {}

  /**
   * Runs `query`, or throws PgUnavailable at once while down / when nothing answered within
   * the pool's statement timeout plus `waitMs`.
   */
  async run<T>(query: () => Promise<T>): Promise<T> {
    if (Date.now() < this.downUntil) throw new PgUnavailable(`the database did not answer in the last ${this.waitMs} ms`);
    const waitMs = this.statementMs + this.waitMs;
    let timer: NodeJS.Timeout | undefined;
    let waitedOut = false;
    const waited = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        waitedOut = true;
        reject(new PgUnavailable(`the database did not answer within ${waitMs} ms`));
      }, waitMs);
    });
    try {
      const out = await Promise.race([query(), waited]);
      this.recovering = false;
      return out;
    } catch (err) {
      if (waitedOut ? this.recovering : isPgUnavailable(err)) {
        this.recovering = true;
        this.downUntil = Date.now() + this.waitMs;
      } else if (!waitedOut) {
        // The server answered (a statement timeout, a constraint): it is there.
        this.recovering = false;
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

const byPool = new WeakMap<Sql, PgAvailability>();
/** For a pool opened without a wait of its own; TIERBOOK_PG_WAIT_MS's default. */
const DEFAULT_WAIT_MS = 500;

/**
 * The availability of one pool (one per pool: each reconnects on its own), made with `waitMs`
 * the first time it is asked for (createSql registers its pools' wait and statement timeout
 * when given a wait).
 */
export function availabilityOf(sql: Sql, waitMs = DEFAULT_WAIT_MS, statementMs = 0): PgAvailability {
  let a = byPool.get(sql);
  if (!a) byPool.set(sql, (a = new PgAvailability(waitMs, statementMs)));
  return a;
}

/**
 * postgres.js' reconnect back-off, in seconds: 50 ms doubling to 1 s, so a restarted server is
 * used within a second (the default grows to 20 s, which kept calls failing long after the
 * server was back).
 */
export function reconnectBackoff(retries: number): number {
  return Math.min(0.05 * 2 ** retries, 1);
}
