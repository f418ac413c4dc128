/**
 * `npm run stack -- --hosts N`: the stack's gateway part as N gateway hosts on one machine
 * (src/devstack/hosts.ts: host i binds 127.0.0.(2+i) with the same ports, its own admin port
 * and its own sync consumer), and nginx balancing over every host. The host count and the
 * extra hosts' pids live in <stack dir>/hosts.json beside pids.json (whose `gateway` is host
 * 0's primary), so `down` stops them all and a partial `up` (after a crash) keeps the layout.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../shared/config.js';
import { hostAddress, hostEnv } from './hosts.js';
import { adopt, isAlive, waitForPort } from './process.js';
import { spawnPrimary } from './primary.js';

interface HostsFile {
  hosts: number;
  /** Primaries of hosts 1..N-1 (host 0's is pids.json's `gateway`). */
  extraPids: number[];
}

const hostsFile = (dir: string) => join(dir, 'hosts.json');

function readHosts(dir: string): HostsFile | undefined {
  try {
    return JSON.parse(readFileSync(hostsFile(dir), 'utf8')) as HostsFile;
  } catch {
    return undefined;
  }
}

/**
 * How many gateway hosts the stack runs: TIERBOOK_STACK_HOSTS (set by `up --hosts N`), else
 * what the last `up` in this folder used; 1 = the single host on TIERBOOK_GATEWAY_HOST.
 */
export function stackHosts(dir: string, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.TIERBOOK_STACK_HOSTS;
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 16) throw new Error(`--hosts (TIERBOOK_STACK_HOSTS) must be an integer from 1 to 16, got "${raw}"`);
    return n;
  }
  return readHosts(dir)?.hosts ?? 1;
}

/** The bind addresses of the stack's gateway hosts (undefined for the single-host layout). */
export function stackHostAddresses(dir: string): string[] | undefined {
  const n = stackHosts(dir);
  return n > 1 ? Array.from({ length: n }, (_, i) => hostAddress(i)) : undefined;
}

/**
 * Starts N cluster primaries, one per host address, and waits for every gateway port.
 * `started` gets host 0's pid at once, so a start that fails later still stops it.
 */
export async function startGatewayHosts(config: Config, dir: string, n: number, started: (host0Pid: number) => void): Promise<void> {
  const pids: number[] = [];
  for (let i = 0; i < n; i++) {
    const pid = spawnPrimary(join(dir, `gateway-host-${i}.log`), hostEnv(i));
    pids.push(pid);
    if (i === 0) started(pid);
    // Written as each starts, so a failure part-way still lets `down` stop what runs.
    writeFileSync(hostsFile(dir), JSON.stringify({ hosts: n, extraPids: pids.slice(1) } satisfies HostsFile, null, 2));
  }
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < config.gateway.processes; p++) await waitForPort(config.gateway.basePort + p, hostAddress(i), 60_000);
  }
}

/** Stops hosts 1..N-1 (host 0 is stopped as pids.json's `gateway`) and forgets their pids. */
export async function stopExtraHosts(dir: string, log: (line: string) => void): Promise<void> {
  const file = readHosts(dir);
  if (!file) return;
  for (const [i, pid] of file.extraPids.entries()) {
    if (!isAlive(pid)) continue;
    log(`stopping gateway host ${i + 1} (pid ${pid})`);
    await adopt(`gateway-host-${i + 1}`, pid).stop(20_000);
  }
  if (existsSync(hostsFile(dir))) writeFileSync(hostsFile(dir), JSON.stringify({ hosts: file.hosts, extraPids: [] } satisfies HostsFile, null, 2));
}

/** Removes hosts.json (after `down`): the next `up` is single-host unless told otherwise. */
export function forgetHosts(dir: string): void {
  if (existsSync(hostsFile(dir))) rmSync(hostsFile(dir));
}
