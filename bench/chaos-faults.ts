/**
 * The faults the chaos bench injects, each a SIGKILL, and who brings the part back:
 * - one gateway process: the stack's own supervisor (the cluster primary) forks it again;
 * - the cluster primary (its gateway processes and the sync thread), Redis, Postgres, nginx:
 *   the bench, as systemd would. A unit's main process killed, systemd kills what is left of
 *   its control group (KillMode=mixed/control-group: SIGKILL) and restarts the unit after
 *   RestartSec; here the leftovers are the part's children and its process group (the stack
 *   starts each part in its own), and the restart is `stack up`, which starts exactly what is not running.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { childrenOf, isAlive } from '../src/devstack/process.js';
import type { StackState } from '../src/devstack/stack.js';
import type { ChaosStack } from './chaos-stack.js';

export interface Fault {
  name: string;
  /** Who restarts the killed part. */
  restartedBy: 'supervisor' | 'bench (systemd-like)';
  /** Kills the part; returns a description of what was killed. */
  kill(stack: ChaosStack): Promise<string>;
}

export interface RestartOutcome {
  attempts: number;
  /** ms from the kill until `stack up` (or the supervisor) had the part serving again. */
  readyAfterMs: number;
  log: string;
}

const kill = (pid: number) => {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
};

/** SIGKILL a part's main process, then (as systemd does next) whatever is left of its group. */
async function killPart(stack: ChaosStack, part: keyof StackState): Promise<string> {
  const pid = stack.pids()[part];
  if (pid === undefined || !isAlive(pid)) throw new Error(`${part} is not running`);
  // Found before the kill, while their parent is known: Postgres makes every backend a session
  // leader of its own, so the part's process group alone would leave them serving.
  const children = childrenOf(pid);
  kill(pid);
  for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(10);
  // Each part runs in its own process group led by its main process (detached spawn).
  for (const child of children) kill(child);
  kill(-pid);
  return `${part} pid ${pid} (its children and its process group)`;
}

export const FAULTS: Fault[] = [
  {
    name: 'one gateway process',
    restartedBy: 'supervisor',
    async kill(stack) {
      const g = (await stack.gateways()).find((x) => x.pid !== undefined && x.ready);
      if (!g) throw new Error('no ready gateway process to kill');
      kill(g.pid!);
      return `gateway-${g.index} pid ${g.pid}`;
    },
  },
  { name: 'cluster primary (gateways + sync)', restartedBy: 'bench (systemd-like)', kill: (s) => killPart(s, 'gateway') },
  { name: 'Redis (restart on its AOF)', restartedBy: 'bench (systemd-like)', kill: (s) => killPart(s, 'redis') },
  { name: 'Postgres', restartedBy: 'bench (systemd-like)', kill: (s) => killPart(s, 'postgres') },
  { name: 'nginx', restartedBy: 'bench (systemd-like)', kill: (s) => killPart(s, 'nginx') },
];

/**
 * Brings the stack back after a fault: waits `restartDelayMs` (systemd's RestartSec), then
 * `stack up` until it succeeds (a part may refuse for a moment, e.g. Postgres while the old
 * backends exit), at most `maxAttempts` times. For the supervisor's fault, waits until every
 * gateway slot is ready again.
 */
export async function restart(stack: ChaosStack, fault: Fault, killedAt: number, restartDelayMs: number, maxAttempts = 10): Promise<RestartOutcome> {
  if (fault.restartedBy === 'supervisor') {
    for (;;) {
      const gs = await stack.gateways().catch(() => []);
      if (gs.length > 0 && gs.every((g) => g.ready)) return { attempts: 0, readyAfterMs: Date.now() - killedAt, log: '' };
      if (Date.now() - killedAt > 60_000) throw new Error('the supervisor did not restart the gateway process within 60 s');
      await sleep(50);
    }
  }
  await sleep(restartDelayMs);
  let log = '';
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const r = await stack.up();
    log += r.out;
    if (r.code === 0) return { attempts: attempt, readyAfterMs: Date.now() - killedAt, log };
    await sleep(1000);
  }
  throw new Error(`stack up failed ${maxAttempts} times after "${fault.name}":\n${log.slice(-3000)}`);
}
