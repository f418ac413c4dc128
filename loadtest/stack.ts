import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

/**
 * The load test's view of the local stack (scripts/stack.sh, owned by the stack): is it up,
 * start it if not, and create accounts through the project's CLI, exactly as a user would.
 */

export function portOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Whether `scripts/stack.sh status` says the stack runs and nginx answers on its port. */
export async function stackIsUp(root: string, nginxPort: number): Promise<boolean> {
  const script = join(root, 'scripts', 'stack.sh');
  if (!existsSync(script)) return portOpen('127.0.0.1', nginxPort);
  const status = spawnSync('bash', [script, 'status'], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  return status.status === 0 && (await portOpen('127.0.0.1', nginxPort));
}

/**
 * Starts the stack in the background (its output goes to `logFile`) and waits, bounded, for
 * nginx to accept connections. The stack keeps running afterwards; `npm run stack:stop` ends it.
 */
export async function startStack(root: string, nginxPort: number, logFile: string, timeoutSec = 240): Promise<void> {
  const script = join(root, 'scripts', 'stack.sh');
  if (!existsSync(script)) throw new Error('scripts/stack.sh is missing: cannot start the stack (use the baseline scenario meanwhile)');
  const log = openSync(logFile, 'a');
  // --detach: stack.sh returns once the stack is started and leaves it running.
  const child = spawn('bash', [script, 'up', '--detach'], { cwd: root, detached: true, stdio: ['ignore', log, log] });
  child.unref();
  const deadline = Date.now() + timeoutSec * 1000;
  while (Date.now() < deadline) {
    if (await stackIsUp(root, nginxPort)) return;
    if (child.exitCode !== null && child.exitCode !== 0) throw new Error(`stack.sh up exited ${child.exitCode}; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`the stack did not come up within ${timeoutSec} s; see ${logFile}`);
}

export interface Account {
  accountId: string;
  apiKey: string;
  tier: string;
}

/** Creates one account with the CLI; the key is only held in memory and in ghz's config file. */
export function createAccount(root: string, tier: string, name: string): Account {
  const cli = join(root, 'dist', 'src', 'cli', 'tierbook.js');
  if (!existsSync(cli)) throw new Error('the tierbook CLI (dist/src/cli/tierbook.js) is not built yet');
  const r = spawnSync(process.execPath, [cli, 'accounts', 'create', '--tier', tier, '--name', name, '--json'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`tierbook accounts create --tier ${tier} failed: ${r.stderr.trim() || r.stdout.trim()}`);
  const line = r.stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error(`tierbook accounts create printed no JSON: ${r.stdout.trim()}`);
  const a = JSON.parse(line) as Account;
  if (!a.apiKey) throw new Error('tierbook accounts create: no apiKey in its JSON');
  return a;
}

/** The account tier a stream's tier uses by default. */
export const TIER_ACCOUNT: Record<'premium' | 'shared', string> = { premium: 'ELITE', shared: 'PRO' };
