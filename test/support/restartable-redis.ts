/**
 * A test Redis that can be killed and started again on the same data folder and port: the
 * "Redis goes away" cases. Optionally with the stack's append-only file (fsync every second),
 * so a restart reloads what was written.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/devstack/ports.js';
import { isAlive } from '../../src/devstack/process.js';
import { startRedis } from '../../src/devstack/redis.js';

export interface RestartableRedis {
  url: string;
  /** kill -9: no shutdown save, clients see their connections drop. */
  kill(): Promise<void>;
  up(): Promise<void>;
  /** Stops it for good and removes its data. */
  destroy(): Promise<void>;
}

export async function startRestartableRedis(opts: { appendOnly?: boolean } = {}): Promise<RestartableRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'tierbook-redis-restart-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const start = () => startRedis({ dir, port, appendOnly: opts.appendOnly ?? false });
  let proc = await start();
  let running = true;
  const kill = async () => {
    if (!running) return;
    running = false;
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    for (let i = 0; i < 100 && isAlive(proc.pid); i++) await sleep(20);
  };
  return {
    url: proc.url,
    kill,
    async up() {
      if (running) return;
      proc = await start();
      running = true;
    },
    async destroy() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
