import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launch, waitForPort, type OwnedProcess } from './process.js';

export interface RedisOptions {
  dir: string;
  port: number;
  /** Append-only file with fsync every second: what the stack runs with. Tests may turn it off. */
  appendOnly?: boolean;
  /** `maxmemory` (e.g. '2gb'); past it Redis refuses writes (noeviction) instead of growing. */
  maxmemory?: string;
  /** Extra `redis-server` arguments, e.g. ['--cluster-enabled', 'yes']. */
  extraArgs?: string[];
}

/** Starts redis-server (Debian's package) on loopback with its data in `dir`. */
export async function startRedis(opts: RedisOptions): Promise<OwnedProcess & { url: string }> {
  mkdirSync(opts.dir, { recursive: true });
  const args = [
    '--port', String(opts.port),
    '--bind', '127.0.0.1',
    '--dir', opts.dir,
    '--daemonize', 'no',
    '--save', '',
    '--appendonly', opts.appendOnly ? 'yes' : 'no',
    '--appendfsync', 'everysec',
    // Rewrites write an RDB snapshot plus the tail (fast to write and to load), and only once
    // the file doubled past 64 MB, so a steady dataset rewrites rarely (docs/retention.md).
    '--aof-use-rdb-preamble', 'yes',
    '--auto-aof-rewrite-percentage', '100',
    '--auto-aof-rewrite-min-size', '64mb',
    // Keep fsync during a rewrite: skipping it would widen the loss window on an OS crash from
    // one second to the whole rewrite (docs/sync.md, "Persistence").
    '--no-appendfsync-on-rewrite', 'no',
    ...(opts.maxmemory ? ['--maxmemory', opts.maxmemory] : []),
    // Streams and books must never be evicted.
    '--maxmemory-policy', 'noeviction',
    '--protected-mode', 'yes',
    ...(opts.extraArgs ?? []),
  ];
  const logFile = join(opts.dir, 'redis.log');
  const proc = launch({ name: `redis:${opts.port}`, command: 'redis-server', args, logFile });
  await waitForPort(opts.port, '127.0.0.1', 30_000, { pid: proc.pid, logFile });
  return { ...proc, url: `redis://127.0.0.1:${opts.port}` };
}
