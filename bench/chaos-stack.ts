/**
 * The chaos bench's stack: the real dev stack (`node dist/src/devstack/cli.js up --detach`,
 * what `npm run stack` runs) in its own folder on free ports, so it never touches a
 * developer's .stack. Its durable settings are the stack's: Redis on an append-only file
 * (fsync every second), Postgres with fsync. A killed part is restarted the way systemd would
 * restart its unit: `up` again, which starts exactly the parts that are not running.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consecutiveFreePorts, freePort } from '../src/devstack/ports.js';
import { fromRoot } from '../src/shared/paths.js';
import type { StackState } from '../src/devstack/stack.js';
import type { GatewayStatus } from '../src/server/supervisor.js';

export interface ChaosStack {
  dir: string;
  /** nginx, host:port. */
  target: string;
  databaseUrl: string;
  env: NodeJS.ProcessEnv;
  /** `stack up --detach`: starts what is missing; resolves with its exit code and output. */
  up(): Promise<{ code: number; out: string }>;
  down(): Promise<void>;
  pids(): StackState;
  /** The gateway processes the cluster primary reports on its admin port. */
  gateways(): Promise<GatewayStatus[]>;
  /** Runs the tierbook CLI (accounts create ...) against this stack. */
  tierbook(args: string[]): Promise<string>;
}

function runNode(script: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 180_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

export async function createChaosStack(opts: { processes: number; env?: Record<string, string> }): Promise<ChaosStack> {
  const dir = mkdtempSync(join(tmpdir(), 'tierbook-chaos-'));
  chmodSync(dir, 0o755);
  const [redis, pg, nginx, admin] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const base = await consecutiveFreePorts(opts.processes);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TIERBOOK_STACK_DIR: dir,
    TIERBOOK_REDIS_URL: `redis://127.0.0.1:${redis}`,
    TIERBOOK_DATABASE_URL: `postgres://tierbook@127.0.0.1:${pg}/tierbook`,
    TIERBOOK_NGINX_PORT: String(nginx),
    TIERBOOK_ADMIN_PORT: String(admin),
    TIERBOOK_GATEWAY_BASE_PORT: String(base),
    TIERBOOK_GATEWAY_PROCESSES: String(opts.processes),
    TIERBOOK_LOG_LEVEL: 'warn',
    TIERBOOK_LOG_PRETTY: 'false',
    // A kill -9 recovery is about the crash, not the drain of the processes left behind.
    TIERBOOK_DRAIN_MS: '3000',
    ...opts.env,
  };
  const cli = fromRoot('dist', 'src', 'devstack', 'cli.js');
  return {
    dir,
    target: `127.0.0.1:${nginx}`,
    databaseUrl: env.TIERBOOK_DATABASE_URL!,
    env,
    up: () => runNode(cli, ['up', '--detach'], env),
    async down() {
      await runNode(cli, ['down'], env);
      rmSync(dir, { recursive: true, force: true });
    },
    pids: () => {
      try {
        return JSON.parse(readFileSync(join(dir, 'pids.json'), 'utf8')) as StackState;
      } catch {
        return {};
      }
    },
    async gateways() {
      const res = await fetch(`http://127.0.0.1:${admin}/readyz`);
      return ((await res.json()) as { gateways: GatewayStatus[] }).gateways;
    },
    async tierbook(args) {
      const r = await runNode(fromRoot('dist', 'src', 'cli', 'tierbook.js'), args, env, 30_000);
      if (r.code !== 0) throw new Error(`tierbook ${args.join(' ')} failed: ${r.out}`);
      return r.out;
    },
  };
}
