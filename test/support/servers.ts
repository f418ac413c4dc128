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
  // A free port may be taken by another test file's server before this one binds it (test
  // files start servers side by side): a server that exits before it listens is started
  // again on fresh ports (its log says why, e.g. "Address already in use").
  let port = 0;
  let dir = '';
  let proc: Awaited<ReturnType<typeof startRedis>> | undefined;
  for (let attempt = 1; !proc; attempt++) {
    dir = tempDir('redis');
    port = await freePort();
    const args = typeof extraArgs === 'function' ? await extraArgs(port) : extraArgs;
    try {
      proc = await startRedis({ dir, port, appendOnly: false, extraArgs: args });
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      if (attempt >= 3 || !/exited before listening/.test(String(err))) throw err;
    }
  }
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
