import { availableParallelism, hostname } from 'node:os';
import { fromRoot } from './paths.js';

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

export interface PoolConfig {
  /** Worker threads in this pool, per gateway process. */
  threads: number;
  /** Calls each thread runs at once: the work is mostly waiting on Redis. */
  concurrency: number;
  /** Calls allowed to wait for a thread before new ones get RESOURCE_EXHAUSTED. */
  queue: number;
}

export function loadConfig(env: Env = process.env) {
  const cores = availableParallelism();
  const config = {
    logLevel: oneOf(env, 'TIERBOOK_LOG_LEVEL', 'info', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    logPretty: str(env, 'TIERBOOK_LOG_PRETTY', 'false') === 'true',
    redisUrl: url(env, 'TIERBOOK_REDIS_URL', 'redis://127.0.0.1:56379', ['redis:', 'rediss:']),
    databaseUrl: url(env, 'TIERBOOK_DATABASE_URL', 'postgres://tierbook@127.0.0.1:55432/tierbook', ['postgres:', 'postgresql:']),
    gateway: {
      host: str(env, 'TIERBOOK_GATEWAY_HOST', '127.0.0.1'),
      /** Gateway process i (0-based) listens on basePort + i; nginx balances over them. */
      basePort: int(env, 'TIERBOOK_GATEWAY_BASE_PORT', 50061, 0, 65535),
      processes: int(env, 'TIERBOOK_GATEWAY_PROCESSES', cores, 1, 64),
      /** Largest request or response, bytes; nginx's client_max_body_size matches it. */
      maxMessageBytes: int(env, 'TIERBOOK_MAX_MESSAGE_BYTES', 4 * 1024 * 1024, 1024),
      /** How long an API key -> account lookup is cached in each gateway process. */
      authCacheMs: int(env, 'TIERBOOK_AUTH_CACHE_MS', 5_000, 0),
      /** How long a graceful shutdown waits for in-flight calls. */
      drainMs: int(env, 'TIERBOOK_DRAIN_MS', 10_000, 0),
    },
    nginxPort: int(env, 'TIERBOOK_NGINX_PORT', 50051, 1, 65535),
    adminPort: int(env, 'TIERBOOK_ADMIN_PORT', 9464, 0, 65535),
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
      /** Monthly partitions of orders and fills created ahead of time. */
      partitionsAhead: int(env, 'TIERBOOK_SYNC_PARTITIONS_AHEAD', 3, 1, 120),
      /** Longest back-off while Postgres or Redis is unreachable. */
      maxBackoffMs: int(env, 'TIERBOOK_SYNC_MAX_BACKOFF_MS', 5_000, 10),
    },
  };
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
