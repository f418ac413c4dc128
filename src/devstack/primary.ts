import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { fromRoot } from '../shared/paths.js';

/**
 * Starts one cluster primary (`node dist/src/server/main.js`) in the background, its output
 * appended to `logFile`, with `env` added to this process's environment; returns its pid.
 *
 * TIERBOOK_CPU_PROF_DIR: every process of the cluster (the primary and its forked gateways,
 * which inherit its execArgv) writes a V8 CPU profile there when it exits
 * (bench/cpu-profile-summary.ts).
 */
export function spawnPrimary(logFile: string, env: Record<string, string> = {}): number {
  const profDir = process.env.TIERBOOK_CPU_PROF_DIR;
  const profile = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...profile, fromRoot('dist', 'src', 'server', 'main.js')], {
    stdio: ['ignore', log, log],
    detached: true,
    env: { ...process.env, ...env },
  });
  closeSync(log);
  child.unref();
  return child.pid!;
}
