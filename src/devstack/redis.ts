import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launch, waitForPort, type OwnedProcess } from './process.js';

export interface RedisOptions {
  dir: string;
  port: number;
  /** Append-only file with fsync every second: what the stack runs with. Tests may turn it off. */
  appendOnly?: boolean;
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
    // Streams and books must never be evicted.
    '--maxmemory-policy', 'noeviction',
    '--protected-mode', 'yes',
    ...(opts.extraArgs ?? []),
  ];
  const proc = launch({ name: `redis:${opts.port}`, command: 'redis-server', args, logFile: join(opts.dir, 'redis.log') });
  await waitForPort(opts.port);
  return { ...proc, url: `redis://127.0.0.1:${opts.port}` };
}
