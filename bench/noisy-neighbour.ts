/**
 * Noisy-neighbour benchmark (issue 6): does premium keep its latency while the shared tier is
 * flooded? Three ghz runs against the running stack (through nginx):
 *   1. capacity: shared PlaceOrder flat out, to learn what the shared pool serves;
 *   2. alone:    premium PlaceOrder at a fixed, moderate rate (ghz --rps), nothing else;
 *   3. noisy:    the same premium load while shared offers about twice its capacity.
 * It prints premium alone vs noisy side by side, and how quickly shared overflow was refused.
 * Pass: premium p99 (noisy) <= 2 x premium p99 (alone), premium errors 0, shared overflow
 * answered RESOURCE_EXHAUSTED with p99 well under the call timeout.
 *
 *   node dist/bench/noisy-neighbour.js [--premium-rps 100] [--duration 20] [--shared-rps N] [--nice]
 *
 * With TIERBOOK_PREMIUM_GATEWAY_PROCESSES set (as for the stack), premium calls go to the
 * premium nginx port and its premium-only gateway processes.
 *
 * Starts the stack (scripts/stack.sh up --detach) only if it is not running; start it with
 * TIERBOOK_RATE_LIMIT_PRO=0 to see the pool's own bound rather than the per-account limit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { availableParallelism, loadavg } from 'node:os';
import { loadConfig } from '../src/shared/config.js';
import { fromRoot } from '../src/shared/paths.js';

interface Detail { latency: number; status: string }
interface Ghz { count: number; rps: number; statusCodeDistribution: Record<string, number>; details: Detail[] | null }

/** Latency figures of one set of calls, ms. */
interface Figures { calls: number; rps: number; p50: number; p99: number; max: number; statuses: Record<string, number> }

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

function ghzBin(): string {
  const found = [process.env.GHZ_BIN, fromRoot('.tools', 'bin', 'ghz'), '/root/go/bin/ghz'].find((p) => p && existsSync(p));
  if (!found) throw new Error('ghz not found: set GHZ_BIN or run scripts/loadtest.sh once to install it');
  return found;
}

function ensureStack(): void {
  const st = spawnSync('bash', [fromRoot('scripts', 'stack.sh'), 'status'], { encoding: 'utf8' });
  if (st.status === 0 && !/not running|stopped/.test(st.stdout)) return;
  console.log('starting the stack (scripts/stack.sh up --detach)');
  const up = spawnSync('bash', [fromRoot('scripts', 'stack.sh'), 'up', '--detach'], { stdio: 'inherit', timeout: 300_000 });
  if (up.status !== 0) throw new Error('scripts/stack.sh up --detach failed');
}

function account(tier: string): string {
  const r = spawnSync(process.execPath, [fromRoot('dist', 'src', 'cli', 'tierbook.js'), 'accounts', 'create', '--tier', tier, '--name', `noisy-${tier.toLowerCase()}`, '--json'], { encoding: 'utf8', timeout: 30_000 });
  const line = r.stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (r.status !== 0 || !line) throw new Error(`accounts create --tier ${tier} failed: ${r.stderr || r.stdout}`);
  return (JSON.parse(line) as { apiKey: string }).apiKey;
}

/** A resting buy deep enough below the reference never to trade (AAPL tick 1, MSFT tick 5). */
function order(symbol: string, price: number): string {
  return JSON.stringify({ symbol, side: 'SIDE_BUY', type: 'ORDER_TYPE_LIMIT', time_in_force: 'TIME_IN_FORCE_GTC', price_ticks: String(price), quantity_lots: '1' });
}

/** One ghz run, bounded: ghz stops after `seconds`, and is killed a minute after that. */
function ghz(label: string, o: { target: string; key: string; data: string; seconds: number; rps?: number; concurrency: number; connections: number }, dir: string): Promise<Ghz> {
  const out = join(dir, `${label}.json`);
  const args = [
    '--insecure', '--call', 'tierbook.v1.OrderService/PlaceOrder', '-d', o.data,
    '-m', JSON.stringify({ authorization: `Bearer ${o.key}` }), '--timeout', '10s',
    '-z', `${o.seconds}s`, '-c', String(o.concurrency), '--connections', String(o.connections),
    // At the end, let calls in flight finish instead of closing connections under them
    // (ghz would count those as UNAVAILABLE).
    '--duration-stop', 'wait',
    '--format', 'json', '-o', out, ...(o.rps ? ['--rps', String(o.rps)] : []), o.target,
  ];
  return new Promise((resolve, reject) => {
    // --nice: on a one-box setup the load generators stand in for clients on other hosts;
    // at nice 19 they take only CPU the server leaves idle.
    const [cmd, argv] = process.argv.includes('--nice') ? ['nice', ['-n', '19', ghzBin(), ...args]] : [ghzBin(), args];
    const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
    const killer = setTimeout(() => child.kill('SIGKILL'), (o.seconds + 60) * 1000);
    child.on('exit', (code) => {
      clearTimeout(killer);
      if (code !== 0) return reject(new Error(`ghz ${label} exited ${code}: ${err}`));
      const raw = readFileSync(out);
      // Every call's detail is kept, compressed: a 20 s flood is megabytes of JSON.
      writeFileSync(`${out}.gz`, gzipSync(raw));
      rmSync(out);
      resolve(JSON.parse(raw.toString('utf8')) as Ghz);
    });
  });
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0;
}

/** Figures of a run's calls, optionally only those that ended with `status`. */
function figures(r: Ghz, seconds: number, status?: string): Figures {
  const ds = (r.details ?? []).filter((d) => !status || d.status === status);
  const ms = ds.map((d) => d.latency / 1e6).sort((a, b) => a - b);
  return {
    calls: ds.length, rps: Math.round(ds.length / seconds), p50: +pct(ms, 50).toFixed(2), p99: +pct(ms, 99).toFixed(2),
    max: +(ms.at(-1) ?? 0).toFixed(2), statuses: r.statusCodeDistribution,
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const target = `127.0.0.1:${config.nginxPort}`;
  const seconds = arg('duration', 20);
  const premiumRps = arg('premium-rps', 100);
  const dir = fromRoot('bench', 'results', `noisy-neighbour-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  // Other work on the box skews every figure: record how busy it was.
  const startLoad = loadavg().map((l) => l.toFixed(1)).join(' ');
  ensureStack();
  const premiumKey = account('ELITE');
  const sharedKey = account('PRO');
  // With premium-only gateway processes, premium clients use their own nginx port.
  const premiumTarget = config.gateway.premiumProcesses > 0 ? `127.0.0.1:${config.nginxPremiumPort}` : target;
  const premium = { target: premiumTarget, key: premiumKey, data: order('AAPL', 1_750_000), seconds, rps: premiumRps, concurrency: 16, connections: 2 };
  // Enough shared calls in flight to overflow the pool's queue, not just keep it busy.
  const shared = { target, key: sharedKey, data: order('MSFT', 4_000_000), seconds, concurrency: 256, connections: 4 };

  console.log(`1/3 shared capacity: flat out for ${Math.min(seconds, 10)} s`);
  // Capacity is what the pool serves with a modest backlog; a deeper one measures collapse.
  const cap = await ghz('capacity', { ...shared, seconds: Math.min(seconds, 10), concurrency: 32 }, dir);
  const capacity = figures(cap, Math.min(seconds, 10), 'OK').rps;
  const sharedRps = arg('shared-rps', 2 * capacity);
  console.log(`   shared serves ~${capacity} calls/s; the flood will offer ${sharedRps}/s`);

  console.log(`2/3 premium alone at ${premiumRps}/s for ${seconds} s`);
  const alone = await ghz('premium-alone', premium, dir);
  console.log(`3/3 premium at ${premiumRps}/s with shared offering ${sharedRps}/s, ${seconds} s`);
  const [noisy, flood] = await Promise.all([ghz('premium-noisy', premium, dir), ghz('shared-flood', { ...shared, rps: sharedRps }, dir)]);

  const a = figures(alone, seconds);
  const n = figures(noisy, seconds);
  const errors = (f: Figures) => f.calls - (f.statuses.OK ?? 0);
  const refused = figures(flood, seconds, 'ResourceExhausted');
  const served = figures(flood, seconds, 'OK');
  const rows = [
    ['', 'premium alone', 'premium + shared flood'],
    ['premium calls/s (offered)', `${a.rps} (${premiumRps})`, `${n.rps} (${premiumRps})`],
    ['premium p50 ms', a.p50, n.p50],
    ['premium p99 ms', a.p99, n.p99],
    ['premium max ms', a.max, n.max],
    ['premium errors', errors(a), errors(n)],
    ['shared offered / served calls/s', '-', `${sharedRps} / ${served.rps}`],
    ['shared RESOURCE_EXHAUSTED', '-', `${refused.calls} (p50 ${refused.p50} ms, p99 ${refused.p99} ms)`],
    ['shared statuses', '-', JSON.stringify(flood.statusCodeDistribution)],
  ];
  const table = rows.map((r) => `| ${r.join(' | ')} |`);
  table.splice(1, 0, '|---|---|---|');
  const pass = n.p99 <= 2 * a.p99 && errors(n) === 0 && refused.calls > 0;
  const setup = `pools per gateway process: premium ${config.pools.premium.threads} thread(s) x ${config.pools.premium.concurrency}, queue ${config.pools.premium.queue}; ` +
    `shared ${config.pools.shared.threads} x ${config.pools.shared.concurrency}, queue ${config.pools.shared.queue}; ${config.gateway.processes} gateway processes` +
    (config.gateway.premiumProcesses > 0 ? ` (${config.gateway.premiumProcesses} premium-only on port ${config.nginxPremiumPort}, the others at nice ${config.gateway.generalNice})` : '') +
    `; shared cap ${config.poolMaxRps.shared || 'none'}/s per process; ` +
    `load average at start ${startLoad} (${availableParallelism()} cores); ghz ${process.argv.includes('--nice') ? 'at nice 19' : 'at normal priority'}`;
  const md = `${setup}\n\n${table.join('\n')}\n\nshared capacity ~${capacity}/s; premium p99 ratio ${(n.p99 / a.p99).toFixed(2)} (<= 2 to pass): ${pass ? 'PASS' : 'FAIL'}\n`;
  writeFileSync(join(dir, 'summary.md'), md);
  console.log(`\n${md}results in ${dir}`);
  process.exitCode = pass ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 2;
});
