/**
 * The standalone sync (`node dist/src/sync/main.js`) as a child process a test can kill -9.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { once } from 'node:events';
import { fromRoot } from '../../../src/shared/paths.js';

export interface SyncProcess {
  pid: number;
  /** kill -9: no chance to finish the batch or say goodbye. */
  kill(): Promise<void>;
  /** SIGTERM: commits the batch in hand, then exits. */
  stop(): Promise<void>;
}

export function spawnSync(env: Record<string, string>, logFile: string): SyncProcess {
  const out = openSync(logFile, 'a');
  const child: ChildProcess = spawn(process.execPath, [fromRoot('dist', 'src', 'sync', 'main.js')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const exited = once(child, 'exit');
  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };
  return { pid: child.pid as number, kill: () => signal('SIGKILL'), stop: () => signal('SIGTERM') };
}
