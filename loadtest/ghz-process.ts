import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { parseGhzJson, type GhzReport } from './ghz-result.js';

/**
 * Finding and running ghz. scripts/loadtest.sh installs the pinned ghz when it is missing and
 * passes its path in GHZ_BIN; without it we look in the project's .tools/bin, GOPATH/bin and
 * PATH, so the tests can run ghz too.
 */

export const GHZ_VERSION = 'v0.120.0';

export function findGhz(root: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates = [env.GHZ_BIN, join(root, '.tools', 'bin', 'ghz')];
  const gopath = spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8' });
  if (gopath.status === 0 && gopath.stdout.trim()) candidates.push(join(gopath.stdout.trim(), 'bin', 'ghz'));
  for (const dir of (env.PATH ?? '').split(delimiter)) if (dir) candidates.push(join(dir, 'ghz'));
  return candidates.find((c): c is string => !!c && existsSync(c)) ?? null;
}

/**
 * Runs one ghz process on a resolved config, written next to its output so a run can be
 * repeated by hand (`ghz --config <file>`). Resolves with the parsed report; rejects with
 * ghz's stderr when it fails (bad call name, no server, ...). A hard kill after the run's
 * duration plus a grace period keeps every run bounded in time.
 */
export function runGhz(ghz: string, configFile: string, config: Record<string, unknown>, durationSec: number): Promise<GhzReport> {
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  return new Promise((resolve, reject) => {
    const child = spawn(ghz, ['--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()).length > 8192 && (stderr = stderr.slice(-8192)));
    const killer = setTimeout(() => child.kill('SIGKILL'), (durationSec + 60) * 1000);
    child.on('error', (e) => {
      clearTimeout(killer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      if (code !== 0) return reject(new Error(`ghz (${configFile}) exited ${code ?? signal}: ${stderr.trim()}`));
      try {
        resolve(parseGhzJson(readFileSync(String(config.output), 'utf8')));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** Prints a progress line every few seconds while `work` runs; returns what `work` returns. */
export async function withProgress<T>(label: string, durationSec: number, work: Promise<T>): Promise<T> {
  const t0 = Date.now();
  const tick = setInterval(() => {
    const s = Math.round((Date.now() - t0) / 1000);
    const bar = '#'.repeat(Math.min(20, Math.round((s / Math.max(1, durationSec)) * 20))).padEnd(20, '.');
    process.stdout.write(`  ${label} [${bar}] ${s}/${durationSec} s${s > durationSec ? ' (collecting results)' : ''}\n`);
  }, 5000);
  try {
    return await work;
  } finally {
    clearInterval(tick);
  }
}
