import type { Sql } from 'postgres';

/**
 * How long a call waits for Postgres before it hears "unavailable".
 *
 * postgres.js queues a query while its connection reconnects, and the reconnect waits a
 * back-off that grows to 20 s while the server is down (its default `backoff`): a read would
 * sit in that queue until the client's deadline, and the client would hear DEADLINE_EXCEEDED
 * (not retryable by AIP-194 clients) instead of UNAVAILABLE. So a request-path query gets at
 * most `waitMs` (statement timeouts are far shorter, so only a connection wait reaches it), and
 * after a connection failure the pool is "down" for `waitMs`: calls in that time are answered
 * at once without queueing anything, and the first call after it probes the server again.
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
  private downUntil = 0;

  constructor(private readonly waitMs: number) {}

  /** Runs `query`, or throws PgUnavailable at once while down / after `waitMs` without an answer. */
  async run<T>(query: () => Promise<T>): Promise<T> {
    const now = Date.now();
    if (now < this.downUntil) throw new PgUnavailable(`the database did not answer in the last ${this.waitMs} ms`);
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PgUnavailable(`the database did not answer within ${this.waitMs} ms`)), this.waitMs);
    });
    try {
      return await Promise.race([query(), waited]);
    } catch (err) {
      if (isPgUnavailable(err)) this.downUntil = Date.now() + this.waitMs;
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
 * the first time it is asked for (createSql registers its pools' wait when given one).
 */
export function availabilityOf(sql: Sql, waitMs = DEFAULT_WAIT_MS): PgAvailability {
  let a = byPool.get(sql);
  if (!a) byPool.set(sql, (a = new PgAvailability(waitMs)));
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
