import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A server process we started and own: stopping it touches nothing else. */
export interface OwnedProcess {
  readonly name: string;
  readonly pid: number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface LaunchOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  uid?: number;
  gid?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Starts a long-running server in its own process group with output to a log file. The child
 * is unref'd so a test runner or the stack CLI can exit while it runs; it is stopped by PID.
 */
export function launch(opts: LaunchOptions): OwnedProcess {
  const out = openSync(opts.logFile, 'a');
  const spawnOpts: SpawnOptions = {
    stdio: ['ignore', out, out],
    detached: true,
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  };
  if (opts.uid !== undefined) spawnOpts.uid = opts.uid;
  if (opts.gid !== undefined) spawnOpts.gid = opts.gid;
  const child: ChildProcess = spawn(opts.command, opts.args, spawnOpts);
  closeSync(out);
  if (child.pid === undefined) throw new Error(`${opts.name}: failed to start ${opts.command}`);
  child.unref();
  return adopt(opts.name, child.pid);
}

/** Wraps a PID we started earlier (e.g. read back from a pid file). */
export function adopt(name: string, pid: number): OwnedProcess {
  return {
    name,
    pid,
    async stop(graceMs = 10_000) {
      if (!isAlive(pid)) return;
      signal(pid, 'SIGTERM');
      const until = Date.now() + graceMs;
      while (isAlive(pid) && Date.now() < until) await sleep(50);
      if (isAlive(pid)) signal(pid, 'SIGKILL');
      while (isAlive(pid)) await sleep(20);
    },
  };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie child still answers kill(0); treat it as gone.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.split(') ')[1]?.[0] !== 'Z';
  } catch {
    return true;
  }
}

/**
 * The processes whose parent is `pid` (Linux /proc). A server's group is not enough to find
 * them: Postgres makes every backend a session leader of its own.
 */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state, ppid, ...
      const [, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === pid) out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** Resolves once something accepts TCP connections on host:port, or throws after timeoutMs. */
/**
 * Waits until something listens on host:port. With `owner`, a server that exits before it
 * listens (a refused start: a port taken, a data folder still locked) fails the wait at once
 * with the end of its log, instead of after the whole timeout.
 */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 30_000, owner?: { pid: number; logFile: string }): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (owner && !isAlive(owner.pid)) {
      let tail = '';
      try {
        tail = readFileSync(owner.logFile, 'utf8').trim().split('\n').slice(-5).join('\n');
      } catch { /* no log yet */ }
      throw new Error(`pid ${owner.pid} exited before listening on ${host}:${port}${tail ? `:\n${tail}` : ''}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}
