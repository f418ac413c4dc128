import { availableParallelism, hostname } from 'node:os';
import { fromRoot } from './paths.js';
import { CLUSTER_SCHEME, clusterSeeds } from './redis.js';
import type { TierName } from '../domain/tiers.js';

/**
 * All configuration, from environment variables, with every default in this one place.
 * `loadConfig` validates each option and names it in the error, and returns a frozen object;
 * pass it down, never read process.env elsewhere. Every option is listed in the README.
 */

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^-?\d+$/.test(raw.trim())) throw new Error(`${name} must be an integer, got "${raw}"`);
  const v = Number(raw.trim());
  if (v < min || v > max) throw new Error(`${name} must be between ${min} and ${max}, got "${raw}"`);
  return v;
}

function str(env: Env, name: string, def: string): string {
  const raw = env[name];
  return raw === undefined || raw === '' ? def : raw;
}

function oneOf<T extends string>(env: Env, name: string, def: T, allowed: readonly T[]): T {
  const v = str(env, name, def);
  if (!(allowed as readonly string[]).includes(v)) {
    throw new Error(`${name} must be one of ${allowed.join(', ')}, got "${v}"`);
  }
  return v as T;
}

function fraction(env: Env, name: string, def: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw.trim());
  if (!Number.isFinite(v) || v < 0 || v > 1) throw new Error(`${name} must be a number from 0 to 1, got "${raw}"`);
  return v;
}

function url(env: Env, name: string, def: string, protocols: string[]): string {
  const v = str(env, name, def);
  let parsed: URL;
  try {
    parsed = new URL(v);
  } catch {
    throw new Error(`${name} must be a URL, got "${v}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new Error(`${name} must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
  }
  return v;
}

/**
 * One Redis (`redis://`, `rediss://`) or a Redis Cluster by its seed nodes
 * (`redis-cluster://host:port,host:port,...`, see src/shared/redis.ts).
 */
function redisUrl(env: Env): string {
  const name = 'TIERBOOK_REDIS_URL';
  const v = str(env, name, 'redis://127.0.0.1:56379');
  if (!v.startsWith(`${CLUSTER_SCHEME}//`)) return url(env, name, v, ['redis:', 'rediss:']);
  try {
    clusterSeeds(v);
  } catch (err) {
    throw new Error(`${name}: ${(err as Error).message}`);
  }
  return v;
}

export interface PoolConfig {
  /** Worker threads in this pool, per gateway process. */
  threads: number;
  /** Calls each thread runs at once: the work is mostly waiting on Redis. */
  concurrency: number;
  /** Calls allowed to wait for a thread before new ones get RESOURCE_EXHAUSTED. */
  queue: number;
}

/** Per-tier promises and protections (issue 6, docs/protection.md). */
export interface TierConfig {
  /** Deadline applied when the client sets none, ms: the call is not run after it. */
  deadlineMs: number;
  /** Sustained calls per second per account, across every gateway; 0 = unlimited. */
  ratePerSec: number;
  /** Calls an idle account may send at once above the sustained rate. */
  burst: number;
  /** How long analytics results are cached for this tier, ms. */
  cacheTtlMs: number;
  /** Postgres statement timeout for this tier's analytics reads, ms. */
  pgTimeoutMs: number;
}

/**
 * Defaults per tier: premium gets tighter deadlines, higher limits, fresher caches. Rate
 * limits are per account and a business choice; the defaults sit at about what one 2-core
 * host serves in all (so the load tests, one account per stream, are not throttled) and keep
 * one runaway LITE client from taking a host's whole shared capacity.
 */
const TIER_DEFAULTS: Record<TierName, TierConfig> = {
  LITE: { deadlineMs: 10_000, ratePerSec: 1_000, burst: 2_000, cacheTtlMs: 300_000, pgTimeoutMs: 50 },
  PRO: { deadlineMs: 5_000, ratePerSec: 5_000, burst: 10_000, cacheTtlMs: 300_000, pgTimeoutMs: 50 },
  ELITE: { deadlineMs: 2_000, ratePerSec: 20_000, burst: 40_000, cacheTtlMs: 60_000, pgTimeoutMs: 20 },
  BLACK: { deadlineMs: 1_000, ratePerSec: 0, burst: 0, cacheTtlMs: 60_000, pgTimeoutMs: 20 },
};

function tierConfig(env: Env, tier: TierName): TierConfig {
  const d = TIER_DEFAULTS[tier];
  const ratePerSec = int(env, `TIERBOOK_RATE_LIMIT_${tier}`, d.ratePerSec, 0, 10_000_000);
  // A burst below one call would refuse everything; default it to one second of rate.
  const burst = int(env, `TIERBOOK_RATE_BURST_${tier}`, ratePerSec === d.ratePerSec ? d.burst : ratePerSec, 0, 100_000_000);
  if (ratePerSec > 0 && burst < 1) throw new Error(`TIERBOOK_RATE_BURST_${tier} must be at least 1 when TIERBOOK_RATE_LIMIT_${tier} is set, got "${burst}"`);
  return {
    deadlineMs: int(env, `TIERBOOK_DEADLINE_MS_${tier}`, d.deadlineMs, 1, 3_600_000),
    ratePerSec,
    burst,
    cacheTtlMs: int(env, `TIERBOOK_CACHE_TTL_MS_${tier}`, d.cacheTtlMs, 0, 86_400_000),
    pgTimeoutMs: int(env, `TIERBOOK_PG_TIMEOUT_MS_${tier}`, d.pgTimeoutMs, 1, 600_000),
  };
}

/** TLS for the gateway's listener: both files or neither (plaintext h2c on loopback). */
function tlsConfig(env: Env): { certFile: string; keyFile: string } | undefined {
  const certFile = str(env, 'TIERBOOK_TLS_CERT_FILE', '');
  const keyFile = str(env, 'TIERBOOK_TLS_KEY_FILE', '');
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) {
    throw new Error(`TIERBOOK_TLS_CERT_FILE and TIERBOOK_TLS_KEY_FILE must be set together, got cert "${certFile}" and key "${keyFile}"`);
  }
  return { certFile, keyFile };
}

export function loadConfig(env: Env = process.env) {
  const cores = availableParallelism();
  const config = {
    logLevel: oneOf(env, 'TIERBOOK_LOG_LEVEL', 'info', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    /** Human-readable logs (pino-pretty, a dev dependency): on by default when NODE_ENV=development. */
    logPretty: str(env, 'TIERBOOK_LOG_PRETTY', env.NODE_ENV === 'development' ? 'true' : 'false') === 'true',
    /** Share (0..1) of successful calls logged at info; every call at debug; faults always. */
    callLogSample: fraction(env, 'TIERBOOK_CALL_LOG_SAMPLE', 0.01),
    /** OpenTelemetry: one span per call, exported over OTLP/HTTP; off loads no SDK at all. */
    tracing: {
      exporter: oneOf(env, 'TIERBOOK_OTEL_EXPORTER', 'off', ['off', 'otlp', 'console'] as const),
      endpoint: url(env, 'TIERBOOK_OTEL_ENDPOINT', 'http://127.0.0.1:4318/v1/traces', ['http:', 'https:']),
    },
    redisUrl: redisUrl(env),
    databaseUrl: url(env, 'TIERBOOK_DATABASE_URL', 'postgres://tierbook@127.0.0.1:55432/tierbook', ['postgres:', 'postgresql:']),
    /**
     * Longest a call waits for Postgres (history reads, analytics) before it is answered
     * UNAVAILABLE; shorter than every tier's deadline (src/shared/pg-availability.ts).
     */
    postgresWaitMs: int(env, 'TIERBOOK_PG_WAIT_MS', 500, 10, 60_000),
    gateway: {
      host: str(env, 'TIERBOOK_GATEWAY_HOST', '127.0.0.1'),
      /** Gateway process i (0-based) listens on basePort + i; nginx balances over them. */
      basePort: int(env, 'TIERBOOK_GATEWAY_BASE_PORT', 50061, 0, 65535),
      /**
       * Default: one per core but one, which goes to Redis, nginx and the sync (at least one
       * more than the premium-only ones). Measured on 2 cores (docs/loadtest.md, "Topology"):
       * one process beat two on calls/s and p99; a host with only the gateway on it sets cores.
       */
      processes: int(env, 'TIERBOOK_GATEWAY_PROCESSES', Math.max(cores - 1, int(env, 'TIERBOOK_PREMIUM_GATEWAY_PROCESSES', 0, 0, 63) + 1), 1, 64),
      /**
       * How many of those processes (the first ones) serve only premium accounts, behind their
       * own nginx port (TIERBOOK_NGINX_PREMIUM_PORT): a shared-tier flood then cannot take the
       * event loops premium calls run on (docs/protection.md). 0 = every process serves all.
       */
      premiumProcesses: int(env, 'TIERBOOK_PREMIUM_GATEWAY_PROCESSES', 0, 0, 63),
      /**
       * OS priority (nice, 0..19) of the general processes when premium ones exist: on a host
       * short of CPU the premium processes run first. Threads inherit it (pools set their own).
       */
      generalNice: int(env, 'TIERBOOK_GENERAL_GATEWAY_NICE', 5, 0, 19),
      /** Largest request or response, bytes; nginx's client_max_body_size matches it. */
      maxMessageBytes: int(env, 'TIERBOOK_MAX_MESSAGE_BYTES', 4 * 1024 * 1024, 1024),
      /** How long an API key -> account lookup is cached in each gateway process. */
      authCacheMs: int(env, 'TIERBOOK_AUTH_CACHE_MS', 5_000, 0),
      /** How long a graceful shutdown waits for in-flight calls. */
      drainMs: int(env, 'TIERBOOK_DRAIN_MS', 10_000, 0),
      /**
       * A stopping process answers health NOT_SERVING and keeps accepting and serving for this
       * long before it stops listening and drains, so a health checker that opens a fresh
       * connection (grpc-health-probe, a Kubernetes readiness probe, a load balancer) sees
       * NOT_SERVING instead of a refused connection. Not in a rolling restart: there the
       * replacement already serves on the port.
       */
      drainHealthGraceMs: int(env, 'TIERBOOK_DRAIN_HEALTH_GRACE_MS', 2_000, 0, 60_000),
      /** StreamExecutions subscribers one gateway process serves at once. */
      maxStreams: int(env, 'TIERBOOK_MAX_STREAMS', 1_000, 1, 100_000),
      /** A quiet StreamExecutions gets a HEARTBEAT message after this long without one. */
      streamHeartbeatMs: int(env, 'TIERBOOK_STREAM_HEARTBEAT_MS', 15_000, 100, 3_600_000),
      /** PEM certificate chain and key: when set, the gateway serves TLS instead of h2c. */
      tls: tlsConfig(env),
    },
    /** Per-process caps on each pool's admitted calls/s, 0 = none (src/server/pool-throttle.ts). */
    poolMaxRps: {
      premium: int(env, 'TIERBOOK_PREMIUM_MAX_RPS', 0, 0, 10_000_000),
      shared: int(env, 'TIERBOOK_SHARED_MAX_RPS', 0, 0, 10_000_000),
    },
    /**
     * OS priority (nice, 0..19) of each pool's worker threads. On Linux nice is per thread:
     * when the host is short of CPU, shared threads yield to premium ones and to the event loop.
     */
    threadNice: {
      premium: int(env, 'TIERBOOK_PREMIUM_THREAD_NICE', 0, 0, 19),
      shared: int(env, 'TIERBOOK_SHARED_THREAD_NICE', 10, 0, 19),
    },
    /** Per-tier deadlines, rate limits, cache TTLs and Postgres timeouts (docs/protection.md). */
    tiers: {
      LITE: tierConfig(env, 'LITE'),
      PRO: tierConfig(env, 'PRO'),
      ELITE: tierConfig(env, 'ELITE'),
      BLACK: tierConfig(env, 'BLACK'),
    } satisfies Record<TierName, TierConfig>,
    nginxPort: int(env, 'TIERBOOK_NGINX_PORT', 50051, 1, 65535),
    /** nginx's port for premium accounts, served by the premium-only gateway processes. */
    nginxPremiumPort: int(env, 'TIERBOOK_NGINX_PREMIUM_PORT', 50052, 1, 65535),
    /** The primary's admin HTTP port (/metrics for the whole cluster, /healthz, /readyz). */
    adminPort: int(env, 'TIERBOOK_ADMIN_PORT', 9464, 0, 65535),
    adminHost: str(env, 'TIERBOOK_ADMIN_HOST', '127.0.0.1'),
    /** The cluster primary runs this host's sync thread (false when it runs as its own service). */
    primarySync: str(env, 'TIERBOOK_PRIMARY_SYNC', 'true') === 'true',
    pools: {
      premium: {
        threads: int(env, 'TIERBOOK_PREMIUM_THREADS', Math.max(1, Math.floor(cores / 2)), 1, 256),
        concurrency: int(env, 'TIERBOOK_PREMIUM_CONCURRENCY', 32, 1, 1024),
        queue: int(env, 'TIERBOOK_PREMIUM_QUEUE', 512, 0, 1_000_000),
      } satisfies PoolConfig,
      shared: {
        threads: int(env, 'TIERBOOK_SHARED_THREADS', Math.max(1, Math.floor(cores / 2)), 1, 256),
        concurrency: int(env, 'TIERBOOK_SHARED_CONCURRENCY', 32, 1, 1024),
        queue: int(env, 'TIERBOOK_SHARED_QUEUE', 256, 0, 1_000_000),
      } satisfies PoolConfig,
    },
    orders: {
      maxBatchOrders: int(env, 'TIERBOOK_MAX_BATCH_ORDERS', 100, 1, 10_000),
      instrumentsFile: str(env, 'TIERBOOK_INSTRUMENTS_FILE', fromRoot('config', 'instruments.json')),
      /**
       * A finished order (filled, canceled, expired, rejected) stays in Redis this long after
       * its last change, and in any case until the sync has committed its events; then only
       * Postgres has it (docs/retention.md).
       */
      retentionMs: int(env, 'TIERBOOK_ORDER_RETENTION_MS', 600_000, 0),
      /**
       * A client order id is remembered (a retry gets the first result, other content is
       * refused) while its order is open and at least this long after it was placed.
       */
      idempotencyWindowMs: int(env, 'TIERBOOK_IDEMPOTENCY_WINDOW_MS', 3_600_000, 0),
    },
    analytics: {
      /** How long an analytics read with `after_order` waits for the sync before SYNC_BEHIND. */
      readAfterWaitMs: int(env, 'TIERBOOK_READ_AFTER_WAIT_MS', 1_000, 0, 60_000),
    },
    /** The write-behind from the books' event streams to Postgres (src/sync/, docs/sync.md). */
    sync: {
      /** Consumer group shared by the sync threads of all hosts. */
      group: str(env, 'TIERBOOK_SYNC_GROUP', 'pg-sync'),
      /** This host's consumer name: keep it stable so a restart re-reads its own pending entries. */
      consumer: str(env, 'TIERBOOK_SYNC_CONSUMER', hostname()),
      /** Adaptive batch bounds (events per Postgres transaction). */
      batchMin: int(env, 'TIERBOOK_SYNC_BATCH_MIN', 64, 1, 100_000),
      batchMax: int(env, 'TIERBOOK_SYNC_BATCH_MAX', 8192, 1, 100_000),
      /** How long a started batch may wait for more events before it is written. */
      lingerMs: int(env, 'TIERBOOK_SYNC_LINGER_MS', 10, 0, 10_000),
      /** A failing event is retried alone this many times, then dead-lettered. */
      maxAttempts: int(env, 'TIERBOOK_SYNC_MAX_ATTEMPTS', 5, 1, 1000),
      /** Pending entries idle this long belong to a dead consumer and are reclaimed. */
      claimIdleMs: int(env, 'TIERBOOK_SYNC_CLAIM_IDLE_MS', 30_000, 100),
      /** How often streams are trimmed to what every group has acknowledged. */
      trimIntervalMs: int(env, 'TIERBOOK_SYNC_TRIM_INTERVAL_MS', 5_000, 100),
      /** Acknowledged entries younger than this stay in the stream for other readers. */
      retainMs: int(env, 'TIERBOOK_SYNC_RETAIN_MS', 60_000, 0),
      /** A stream longer than this is logged as a warning (the sync is falling behind). */
      warnLength: int(env, 'TIERBOOK_SYNC_WARN_LENGTH', 1_000_000, 1),
      /** How often new books' streams are looked for. */
      discoverIntervalMs: int(env, 'TIERBOOK_SYNC_DISCOVER_INTERVAL_MS', 2_000, 50),
      /**
       * How often discovery also SCANs the keyspace for streams of books the instruments file
       * does not list (created at runtime, or delisted with unsynced events). A SCAN walks
       * every key, so it is kept rare.
       */
      scanIntervalMs: int(env, 'TIERBOOK_SYNC_SCAN_INTERVAL_MS', 60_000, 50),
      /** Monthly partitions of orders and fills created ahead of time. */
      partitionsAhead: int(env, 'TIERBOOK_SYNC_PARTITIONS_AHEAD', 3, 1, 120),
      /** Longest back-off while Postgres or Redis is unreachable. */
      maxBackoffMs: int(env, 'TIERBOOK_SYNC_MAX_BACKOFF_MS', 5_000, 10),
    },
  };
  if (config.gateway.premiumProcesses >= config.gateway.processes) {
    throw new Error(`TIERBOOK_PREMIUM_GATEWAY_PROCESSES must be less than TIERBOOK_GATEWAY_PROCESSES (some process must serve LITE and PRO), got ${config.gateway.premiumProcesses} of ${config.gateway.processes}`);
  }
  if (config.sync.batchMin > config.sync.batchMax) {
    throw new Error(`TIERBOOK_SYNC_BATCH_MIN must not exceed TIERBOOK_SYNC_BATCH_MAX, got ${config.sync.batchMin} > ${config.sync.batchMax}`);
  }
  return deepFreeze(config);
}

export type Config = ReturnType<typeof loadConfig>;

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
