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
import { after, before } from 'node:test';
import postgres from 'postgres';

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

/** `extraArgs` may depend on the port the server got (e.g. a cluster node's bus port). */
export async function startTestRedis(extraArgs: string[] | ((port: number) => Promise<string[]>) = []): Promise<TestServer> {
  const dir = tempDir('redis');
  const port = await freePort();
  const args = typeof extraArgs === 'function' ? await extraArgs(port) : extraArgs;
  const proc = await startRedis({ dir, port, appendOnly: false, extraArgs: args });
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

/**
 * A Postgres server and a client on it for a whole test file: started in `before()`, stopped
 * in `after()`. Read `.server` and `.sql` inside tests.
 */
export function usePostgres(): { server: TestServer; sql: import('postgres').Sql } {
  const ctx = {} as { server: TestServer; sql: import('postgres').Sql };
  before(async () => {
    ctx.server = await startTestPostgres();
    ctx.sql = postgres(ctx.server.url, { onnotice: () => {}, max: 2 });
  });
  after(async () => {
    await ctx.sql?.end();
    await ctx.server?.stop();
  });
  return ctx;
}
