/**
 * The stack CLI as a newcomer runs it (the built `dist/src/devstack/cli.js`), on free ports and
 * a temporary data folder so it never touches a developer's own stack.
 */
import { execFile } from 'node:child_process';
import { fromRoot } from '../../src/shared/paths.js';
import { freePort } from '../../src/devstack/ports.js';

/** The environment of a private stack in `dir`: free ports, one small gateway process. */
export async function privateStackEnv(dir: string): Promise<NodeJS.ProcessEnv> {
  const [redis, pg, nginx, base] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  return {
    ...process.env,
    TIERBOOK_STACK_DIR: dir,
    TIERBOOK_REDIS_URL: `redis://127.0.0.1:${redis}`,
    TIERBOOK_DATABASE_URL: `postgres://tierbook@127.0.0.1:${pg}/tierbook`,
    TIERBOOK_NGINX_PORT: String(nginx),
    TIERBOOK_ADMIN_PORT: '0',
    TIERBOOK_GATEWAY_BASE_PORT: String(base),
    TIERBOOK_GATEWAY_PROCESSES: '1',
    TIERBOOK_PREMIUM_THREADS: '1',
    TIERBOOK_SHARED_THREADS: '1',
    TIERBOOK_LOG_LEVEL: 'warn',
  };
}

/** Runs `stack <args>` with `env`; resolves with its exit code and output (never rejects). */
export function stackCli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [fromRoot('dist', 'src', 'devstack', 'cli.js'), ...args], { env, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}
