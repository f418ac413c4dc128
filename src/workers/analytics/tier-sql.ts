import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import { ApiError } from '../../domain/errors.js';
import type { TierName } from '../../domain/tiers.js';
import type { Config } from '../../shared/config.js';
import { availabilityOf, isPgUnavailable } from '../../shared/pg-availability.js';
import { createSql } from '../../shared/postgres.js';

/**
 * Postgres for analytics, one pool per tier per worker thread. Each pool sets the tier's
 * `statement_timeout` as a startup parameter, so the server itself cancels a query that runs
 * past the tier's promise (premium 20 ms, shared 50 ms by default): a slow shared query can
 * never hold a premium connection, and no timer in JavaScript has to race the database.
 */
/** Connections per tier per thread: misses are rare (cached) and short. */
const POOL_MAX = 2;

export class TierSql {
  private readonly pools = new Map<TierName, Sql>();
  /** Successful queries per tier's pool, to tell a cold pool from a warm one. */
  private readonly served = new Map<TierName, number>();

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
  ) {}

  /** The tier's pool, opened on first use (most threads serve one pool's two tiers). */
  pool(tier: TierName): Sql {
    let sql = this.pools.get(tier);
    if (!sql) {
      sql = createSql(this.config.databaseUrl, {
        max: POOL_MAX,
        appName: `tierbook-analytics-${tier.toLowerCase()}`,
        statementTimeoutMs: this.config.tiers[tier].pgTimeoutMs,
        waitMs: this.config.postgresWaitMs,
        // No type-fetch query on connect: it would run under the tier's statement timeout
        // too, and the queries here pass and read only scalars.
        fetchTypes: false,
      });
      this.pools.set(tier, sql);
    }
    return sql;
  }

  /**
   * Runs one query for a tier. A statement timeout becomes DEADLINE_EXCEEDED / QUERY_TIMEOUT,
   * an unreachable database UNAVAILABLE / BACKEND_UNAVAILABLE; a query slower than half the
   * tier's timeout is logged with `inputs` (the values that decide its plan: account, symbol,
   * range), so the slow ones can be replayed with EXPLAIN.
   */
  async run<T>(tier: TierName, name: string, inputs: Record<string, unknown>, query: (sql: Sql) => Promise<T>): Promise<T> {
    const started = performance.now();
    const attempt = async () => {
      const pool = this.pool(tier);
      const out = await availabilityOf(pool).run(() => query(pool));
      this.served.set(tier, (this.served.get(tier) ?? 0) + 1);
      return out;
    };
    try {
      return await attempt().catch((err: unknown) => {
        // The first queries of a fresh backend load its catalog caches and can overrun a
        // 20 ms budget on a busy host although the same query then takes 1-2 ms: while the
        // pool is young (fewer successes than connections) a timeout is retried once.
        if ((err as { code?: unknown })?.code !== '57014' || (this.served.get(tier) ?? 0) >= POOL_MAX) throw err;
        this.logger.debug({ query: name, tier }, 'statement timeout on a cold connection; retrying once');
        return attempt();
      });
    } catch (err) {
      throw mapPgError(err, tier, name, this.config.tiers[tier].pgTimeoutMs);
    } finally {
      const ms = performance.now() - started;
      if (ms > this.config.tiers[tier].pgTimeoutMs / 2) {
        this.logger.warn({ query: name, tier, ms: Math.round(ms * 10) / 10, inputs }, 'slow analytics query');
      }
    }
  }

  /** Closes every pool (worker shutdown, tests). */
  async end(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.end({ timeout: 1 })));
    this.pools.clear();
    this.served.clear();
  }
}

/** Maps a postgres.js error to the ApiError the client sees; anything else passes through. */
export function mapPgError(err: unknown, tier: TierName, name: string, timeoutMs: number): unknown {
  const code = (err as { code?: unknown })?.code;
  if (code === '57014') {
    return new ApiError('QUERY_TIMEOUT', `${name} took longer than the ${tier} tier's ${timeoutMs} ms query timeout; narrow the range or retry later`, { tier, timeoutMs: String(timeoutMs) });
  }
  if (isPgUnavailable(err)) {
    return new ApiError('BACKEND_UNAVAILABLE', 'the history database is unavailable; retry later');
  }
  return err;
}
