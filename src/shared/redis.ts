import { Redis, type RedisOptions } from 'ioredis';

/**
 * A Redis client for request paths. Commands fail fast while disconnected (bounded retries
 * per request, no offline queue growth without limit) so callers map them to UNAVAILABLE
 * instead of hanging past the client's deadline.
 */
export function createRedis(url: string, overrides: RedisOptions = {}): Redis {
  return quiet(new Redis(url, {
    maxRetriesPerRequest: 2,
    // Reconnect at least every 500 ms (ioredis' default backs off to 2 s): request paths
    // answer UNAVAILABLE while the connection is lost (lostConnection), so the sooner it is
    // back after Redis returns, the shorter the outage clients see.
    retryStrategy: (times: number) => Math.min(times * 50, 500),
    enableAutoPipelining: false,
    connectTimeout: 5_000,
    lazyConnect: false,
    ...overrides,
  }));
}

/**
 * Without an 'error' listener ioredis prints "[ioredis] Unhandled error event" for every
 * failed reconnect while Redis is down (dozens a second). The failures that matter reach the
 * callers as rejected commands (mapped to UNAVAILABLE); the connection's own errors are noise.
 */
function quiet(redis: Redis): Redis {
  redis.on('error', () => {});
  return redis;
}

/**
 * A connection that may block (XREAD/XREADGROUP BLOCK): it must never be shared with request
 * traffic, and it keeps retrying forever because its owner is a long-running loop.
 */
export function createBlockingRedis(url: string, overrides: RedisOptions = {}): Redis {
  return quiet(new Redis(url, { maxRetriesPerRequest: null, enableAutoPipelining: false, ...overrides }));
}

/**
 * Whether a client that was connected has lost its server and is retrying: a command sent
 * now would wait in ioredis' offline queue through growing reconnect delays. Callers that
 * can answer without Redis (fail open, another source, UNAVAILABLE) should do so at once.
 * A client still making its first connection ('connecting') is not "lost".
 */
export function lostConnection(redis: { status: string }): boolean {
  return redis.status === 'reconnecting' || redis.status === 'close' || redis.status === 'end';
}
