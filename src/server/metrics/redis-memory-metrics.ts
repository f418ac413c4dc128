import { Gauge, type Registry } from 'prom-client';

/** The INFO memory fields tierbook exports, by their Redis names. */
export interface RedisMemory {
  usedMemory: number;
  maxMemory: number;
}

/** Reads `used_memory` and `maxmemory` from the text of `INFO memory`. */
export function parseInfoMemory(info: string): RedisMemory {
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:(\\d+)\\s*$`, 'm').exec(info);
    if (!m) throw new Error(`INFO memory has no ${name} field`);
    return Number(m[1]);
  };
  return { usedMemory: field('used_memory'), maxMemory: field('maxmemory') };
}

/**
 * Redis memory on the primary's /metrics, sampled when Prometheus scrapes (one `INFO memory`
 * per scrape, shared by the gauges; no timer runs between scrapes). Redis holds every open
 * order and book: at `maxmemory` with `noeviction` it refuses writes, so operators alert on
 * used / max well before (deploy/prometheus/tierbook-alerts.yml).
 *
 * `info` must fail fast when Redis is away (the scrape must not hang on it): then
 * `tierbook_redis_up` is 0 and the memory gauges keep their last sampled values.
 */
export function registerRedisMemoryMetrics(registry: Registry, info: () => Promise<string>): void {
  let inFlight: Promise<RedisMemory | undefined> | undefined;
  // The gauges' collect() run concurrently within one scrape: they share one INFO call.
  const sample = (): Promise<RedisMemory | undefined> => {
    inFlight ??= info()
      .then(parseInfoMemory, () => undefined)
      .finally(() => setImmediate(() => (inFlight = undefined)));
    return inFlight;
  };
  new Gauge({
    name: 'tierbook_redis_up',
    help: '1 when the last scrape could read INFO memory from Redis, else 0.',
    registers: [registry],
    async collect() {
      this.set((await sample()) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tierbook_redis_used_memory_bytes',
    help: 'Redis used_memory (INFO memory): bytes allocated for data and overhead.',
    registers: [registry],
    async collect() {
      const m = await sample();
      if (m) this.set(m.usedMemory);
    },
  });
  new Gauge({
    name: 'tierbook_redis_maxmemory_bytes',
    help: 'Redis maxmemory (INFO memory); 0 means no limit is set.',
    registers: [registry],
    async collect() {
      const m = await sample();
      if (m) this.set(m.maxMemory);
    },
  });
}
