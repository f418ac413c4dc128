/**
 * Which layout fits this host: for each layout (gateway processes, premium and shared worker
 * threads per process) a fresh stack in its own folder, then the closed-loop `tiered-orders`
 * run with the echo behind nginx measured in the same run (so every row has its own baseline
 * on the same box), then the stack is stopped. Prints a table; the best default is the row
 * with the highest PlaceOrder/s whose premium p99 is not worse than the others'.
 *
 *   node dist/bench/topology.js [--layouts 2x1+1,1x1+1,2x2+2,3x1+1,1x2+2] [--duration 15s]
 *
 * A layout `PxT+S` is P gateway processes, T premium and S shared threads in each. The stack's
 * default ports are used: stop your own stack first.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../src/shared/paths.js';
import type { RunReport } from '../loadtest/report.js';

const { values: args } = parseArgs({
  options: {
    layouts: { type: 'string', default: '2x1+1,1x1+1,2x2+2,3x1+1,1x2+2' },
    duration: { type: 'string', default: '15s' },
  },
});

interface Layout { label: string; processes: number; premium: number; shared: number }

function parseLayout(s: string): Layout {
  const m = /^(\d+)x(\d+)\+(\d+)$/.exec(s.trim());
  if (!m) throw new Error(`a layout is PxT+S (processes x premium threads + shared threads), got "${s}"`);
  return { label: s.trim(), processes: Number(m[1]), premium: Number(m[2]), shared: Number(m[3]) };
}

const root = projectRoot;
const layouts = args.layouts.split(',').map(parseLayout);
const results = join(root, 'loadtest', 'results');
const newest = () => readdirSync(results).filter((d) => d.endsWith('-tiered-orders')).sort().at(-1);

function run(cmd: string, argv: string[], env: NodeJS.ProcessEnv, what: string): void {
  const r = spawnSync(cmd, argv, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}):\n${(r.stdout + r.stderr).slice(-2000)}`);
}

const rows: string[] = [];
for (const [i, l] of layouts.entries()) {
  const dir = mkdtempSync(join(tmpdir(), 'tierbook-topology-'));
  chmodSync(dir, 0o755); // Postgres runs as its own user and must reach its data folder
  const env = {
    ...process.env,
    TIERBOOK_STACK_DIR: dir,
    TIERBOOK_GATEWAY_PROCESSES: String(l.processes),
    TIERBOOK_PREMIUM_THREADS: String(l.premium),
    TIERBOOK_SHARED_THREADS: String(l.shared),
  };
  console.log(`[topology ${i + 1}/${layouts.length}] ${l.label}: fresh stack in ${dir}`);
  try {
    run('node', ['dist/src/devstack/cli.js', 'up', '--detach'], env, 'stack up');
    const before = newest();
    console.log(`[topology ${i + 1}/${layouts.length}] ${l.label}: closed loop for ${args.duration} (and the echo behind nginx)`);
    run('node', ['dist/loadtest/main.js', 'tiered-orders', '--rps', '0', '--duration', args.duration, '--baseline', 'nginx', '--no-start'], env, 'load test');
    const dirName = newest();
    if (!dirName || dirName === before) throw new Error('the load test wrote no report');
    const r = JSON.parse(readFileSync(join(results, dirName, 'report.json'), 'utf8')) as RunReport;
    const ratio = r.ratio[0];
    const echo = r.baseline[0]?.result;
    const total = Object.values(r.tiers).reduce((a, t) => a + (t?.okPerSec ?? 0), 0);
    const p99 = (t: 'premium' | 'shared') => r.tiers[t]?.latencyMs.p99.toFixed(1) ?? '-';
    rows.push(`| ${l.label} | ${l.processes} | ${l.premium} + ${l.shared} | ${total.toFixed(0)} | ${echo?.okPerSec.toFixed(0) ?? '-'} | ${ratio?.throughput.toFixed(2) ?? '-'} | ${p99('premium')} | ${p99('shared')} | ${dirName} |`);
    console.log(rows.at(-1));
  } finally {
    spawnSync('node', ['dist/src/devstack/cli.js', 'down'], { cwd: root, env, stdio: 'ignore', timeout: 120_000 });
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log('\n| layout | gateway processes | threads (premium + shared) each | PlaceOrder/s | echo behind nginx/s | ratio | premium p99 ms | shared p99 ms | report |');
console.log('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |');
for (const r of rows) console.log(r);
