/**
 * A test Postgres that can be stopped and started again on the same data folder and port
 * (the "Postgres restarts under load" case), using the devstack launcher.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../../src/devstack/ports.js';
import { isAlive } from '../../../src/devstack/process.js';
import { startPostgres } from '../../../src/devstack/postgres.js';

export interface RestartablePostgres {
  url: string;
  /** Fast shutdown (SIGINT: aborts open transactions, like a crash for the client). */
  down(): Promise<void>;
  up(): Promise<void>;
  /** Stops it for good and removes its data. */
  destroy(): Promise<void>;
}

export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'tierbook-pg-restart-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  let proc = await startPostgres({ dir, port, unsafeFast: true });
  let up = true;
  const down = async () => {
    if (!up) return;
    up = false;
    try {
      process.kill(proc.pid, 'SIGINT');
    } catch {
      /* gone */
    }
    for (let i = 0; i < 300 && isAlive(proc.pid); i++) await sleep(50);
    await proc.stop(1_000);
  };
  return {
    url: proc.url,
    down,
    async up() {
      if (up) return;
      proc = await startPostgres({ dir, port, unsafeFast: true });
      up = true;
    },
    async destroy() {
      await down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
