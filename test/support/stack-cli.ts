/** Drives the built stack CLI (`stack up / status / down`) the way a person runs it. */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { fromRoot } from '../../src/shared/paths.js';
import { freePort } from '../../src/devstack/ports.js';

/**
 * The stack's environment for a test: its own data folder and free ports, so it never touches
 * a developer's .stack; one gateway process with one thread per pool. `adminPort` 0 = any.
 */
export async function stackEnv(dir: string, opts: { adminPort?: number } = {}): Promise<NodeJS.ProcessEnv> {
  const [redis, pg, nginx, base] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  return {
    ...process.env,
    TIERBOOK_STACK_DIR: dir,
    TIERBOOK_REDIS_URL: `redis://127.0.0.1:${redis}`,
    TIERBOOK_DATABASE_URL: `postgres://tierbook@127.0.0.1:${pg}/tierbook`,
    TIERBOOK_NGINX_PORT: String(nginx),
    TIERBOOK_ADMIN_PORT: String(opts.adminPort ?? 0),
    TIERBOOK_GATEWAY_BASE_PORT: String(base),
    TIERBOOK_GATEWAY_PROCESSES: '1',
    TIERBOOK_PREMIUM_THREADS: '1',
    TIERBOOK_SHARED_THREADS: '1',
    TIERBOOK_LOG_LEVEL: 'warn',
  };
}

/** Runs a built script with `env`; resolves with its exit code and output. */
function runBuilt(script: string[], env: NodeJS.ProcessEnv, args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [fromRoot('dist', 'src', ...script), ...args], { env, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

/** Runs `node dist/src/devstack/cli.js ...args` with `env`. */
export function stackCli(env: NodeJS.ProcessEnv, args: string[], timeoutMs = 120_000): Promise<{ code: number; out: string }> {
  return runBuilt(['devstack', 'cli.js'], env, args, timeoutMs);
}

/** Runs the operator CLI, `node dist/src/cli/tierbook.js ...args`, with `env`. */
export function tierbookCli(env: NodeJS.ProcessEnv, args: string[], timeoutMs = 60_000): Promise<{ code: number; out: string }> {
  return runBuilt(['cli', 'tierbook.js'], env, args, timeoutMs);
}

/** Whether something accepts TCP connections on host:port. */
export function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}
