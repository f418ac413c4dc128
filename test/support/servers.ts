/**
 * Real servers for tests: each call starts its own Redis or Postgres on a free loopback port
 * with its data in a fresh temporary folder, so test files can run in parallel and never
 * share state. Stop them in `after()`.
 */
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/devstack/ports.js';
import { startRedis } from '../../src/devstack/redis.js';
import { startPostgres } from '../../src/devstack/postgres.js';

export interface TestServer {
  url: string;
  port: number;
  pid: number;
  dir: string;
  stop(): Promise<void>;
}

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tierbook-${prefix}-`));
  chmodSync(dir, 0o755);
  return dir;
}

export async function startTestRedis(extraArgs: string[] = []): Promise<TestServer> {
  const dir = tempDir('redis');
  const port = await freePort();
  const proc = await startRedis({ dir, port, appendOnly: false, extraArgs });
  return {
    url: proc.url,
    port,
    pid: proc.pid,
    dir,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startTestPostgres(): Promise<TestServer> {
  const dir = tempDir('pg');
  const port = await freePort();
  const proc = await startPostgres({ dir, port, unsafeFast: true });
  return {
    url: proc.url,
    port,
    pid: proc.pid,
    dir,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
