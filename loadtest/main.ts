import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/shared/config.js';
import { projectRoot } from '../src/shared/paths.js';
import { startBaselineBehindNginx } from './baseline-nginx.js';
import { startBaseline } from './baseline-process.js';
import { findGhz } from './ghz-process.js';
import { checkInvariants } from './invariants.js';
import { describeMachine, parseDurationSec } from './machine.js';
import { writeReport, type InvariantCheck, type RunBase, type RunReport, type StreamRun } from './report.js';
import { measure, measureBaseline, type Measured, type RunContext } from './run-scenario.js';
import { listScenarios, loadInstruments, loadScenario, type Scenario } from './scenario.js';
import { DEFAULT_SLAS, judge, parseSlaRules, type SlaRule } from './sla.js';
import { createAccount, stackIsUp, startStack, TIER_ACCOUNT } from './stack.js';
import { sweep, type BaselineTarget } from './sweep.js';

/**
 * `npm run loadtest -- <scenario> [options]` runs one scenario open loop at a fixed rate;
 * `npm run loadtest -- sweep <scenario> [options]` finds the highest rate within the SLAs;
 * `npm run loadtest -- list` lists the scenarios. See loadtest/README.md for every option.
 */
const USAGE = `usage: npm run loadtest -- <scenario> | sweep <scenario> | list
  --duration 30s       how long each measured run lasts (sweep: the confirm and half-max runs)
  --rps N              offered calls/s for the whole scenario (0 = closed loop, as fast as it goes)
  --connections N      HTTP/2 connections per ghz process (default from the scenario)
  --concurrency N      ghz workers per process (default from the scenario)
  --target host:port   where the stack listens (default nginx, 127.0.0.1:TIERBOOK_NGINX_PORT)
  --sla file.json      SLA rules replacing the defaults (see loadtest/README.md)
  --baseline WHICH     baseline echo measured in the same run: both (default), direct, nginx, none
                       (nginx = echo processes behind an nginx from the stack's template)
  --no-start           fail instead of starting the stack when it is down
  --warmup 5s          unrecorded load at the run's rate before a plain run (0 = none; a sweep
                       always warms up 10 s)
  sweep only: --from N (1000) --factor F (1.5) --max-steps N (8) --step-duration 10s`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    duration: { type: 'string' },
    rps: { type: 'string' },
    connections: { type: 'string' },
    concurrency: { type: 'string' },
    target: { type: 'string' },
    sla: { type: 'string' },
    baseline: { type: 'string', default: 'both' },
    'no-start': { type: 'boolean', default: false },
    warmup: { type: 'string', default: '5s' },
    from: { type: 'string', default: '1000' },
    factor: { type: 'string', default: '1.5' },
    'max-steps': { type: 'string', default: '8' },
    'step-duration': { type: 'string', default: '10s' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

/** --warmup: a duration like --duration's, or 0 for none. */
function warmupSec(v: string): number {
  return /^0s?$/.test(v.trim()) ? 0 : parseDurationSec(v);
}

function int(name: string, v: string | undefined, def: number, min = 0): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${v}"`);
  return n;
}

async function main(): Promise<number> {
  const root = projectRoot;
  const [first, second] = positionals;
  if (values.help || !first) {
    console.log(USAGE);
    return first ? 0 : 2;
  }
  if (first === 'list') {
    for (const n of listScenarios(root)) console.log(`${n.padEnd(18)} ${loadScenario(root, n).description}`);
    return 0;
  }
  const isSweep = first === 'sweep';
  const scenario = loadScenario(root, isSweep ? (second ?? 'premium-orders') : first);
  const config = loadConfig();
  const ghz = findGhz(root);
  if (!ghz) throw new Error('ghz not found: run through `npm run loadtest`, which installs the pinned ghz');

  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const dir = join(root, 'loadtest', 'results', `${stamp}-${isSweep ? 'sweep-' : ''}${scenario.name}`);
  mkdirSync(dir, { recursive: true });
  const rules: SlaRule[] = values.sla ? parseSlaRules(readFileSync(values.sla, 'utf8')) : [...DEFAULT_SLAS];
  const durationSec = parseDurationSec(values.duration ?? scenario.defaults.duration);
  const rps = int('rps', values.rps, scenario.defaults.rps);
  const ctx: RunContext = {
    root,
    ghz,
    dir,
    runId: `lt${stamp}`,
    instruments: loadInstruments(config.orders.instrumentsFile),
    apiKeys: new Map(),
    connections: int('connections', values.connections, scenario.defaults.connections, 1),
    concurrency: int('concurrency', values.concurrency, scenario.defaults.concurrency, 1),
    // The stack's admin port serves the cluster's /metrics: the per-stage table reads it.
    metricsUrl: scenario.target === 'stack' ? `http://127.0.0.1:${config.adminPort}/metrics` : undefined,
  };
  console.log(`tierbook load test: ${isSweep ? 'sweep of ' : ''}${scenario.name} -> ${dir}`);

  const which = values.baseline!;
  if (!['both', 'direct', 'nginx', 'none'].includes(which)) throw new Error(`--baseline must be both, direct, nginx or none, got "${which}"`);
  const stops: (() => Promise<void>)[] = [];
  // Ctrl-C: stop what this run started (baseline echoes, their nginx) by PID before leaving;
  // the ghz children get the terminal's SIGINT themselves.
  process.once('SIGINT', () => {
    console.log('\ninterrupted: stopping the baselines');
    void Promise.allSettled(stops.map((stop) => stop())).then(() => process.exit(130));
  });
  try {
    const baseline = await startBaseline(root);
    stops.push(baseline.stop);
    const baselineHost = `${baseline.host}:${baseline.ports[0]}`;
    console.log(`baseline echo listening on ${baselineHost}`);
    let target = baselineHost;
    const baselines: BaselineTarget[] = [];
    if (scenario.target === 'stack') {
      target = values.target ?? `127.0.0.1:${config.nginxPort}`;
      await ensureStack(root, config.nginxPort, values.target !== undefined, dir);
      provisionAccounts(ctx, scenario);
      if (which === 'both' || which === 'direct') baselines.push({ label: 'baseline-echo', host: baselineHost });
      if (which === 'both' || which === 'nginx') {
        const behind = await startBaselineBehindNginx(root, dir, config.gateway.processes, config.gateway.maxMessageBytes);
        stops.push(behind.stop);
        console.log(`baseline echo x${config.gateway.processes} behind nginx on ${behind.host}`);
        baselines.push({ label: 'baseline-nginx', host: behind.host });
      }
    }
    const base: RunBase = {
      scenario: scenario.name,
      description: scenario.description,
      startedAt: new Date().toISOString(),
      machine: describeMachine(ghz),
      target: scenario.target === 'stack' ? `tierbook stack at ${target}` : `baseline echo at ${target}`,
      slaRules: rules,
    };
    const report = isSweep
      ? await sweep(ctx, scenario, target, baselines, base, rules, {
          from: int('from', values.from, 1000, 1),
          factor: Number(values.factor),
          maxSteps: int('max-steps', values['max-steps'], 8, 1),
          stepSec: parseDurationSec(values['step-duration']!),
          durationSec,
          invariants: (m) => invariantsFor(scenario, config.databaseUrl, m),
        })
      : await plainRun(ctx, scenario, target, baselines, base, rules, rps, durationSec, warmupSec(values.warmup!), config.databaseUrl);
    const md = await writeReport(dir, report);
    console.log(`\nsummary: ${md}`);
    const failed = report.verdicts.filter((v) => !v.pass).length + report.invariants.filter((c) => c.pass === false).length;
    console.log(failed ? `${failed} SLA/invariant check(s) failed` : 'all SLA and invariant checks that ran passed');
    return 0;
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

async function plainRun(
  ctx: RunContext,
  scenario: Scenario,
  target: string,
  baselineTargets: BaselineTarget[],
  base: RunBase,
  rules: SlaRule[],
  rps: number,
  durationSec: number,
  warmupSec: number,
  databaseUrl: string,
): Promise<RunReport> {
  const baselines: StreamRun[] = [];
  for (const b of baselineTargets) baselines.push(await measureBaseline(ctx, scenario, b.host, b.label, rps, durationSec));
  // A fresh stack's first second (JIT, the first connections through nginx, empty caches)
  // holds most of a short run's slow calls: its p99 would be the start-up's, not the steady
  // state's. The warm-up's calls are not recorded (and, like sweep's, carry their own tag).
  if (warmupSec > 0) {
    console.log(`warming up: ${warmupSec} s at ${rps || 'max'} calls/s (not recorded)`);
    await measure(ctx, scenario, target, rps, warmupSec, 'warmup');
  }
  const m = await measure(ctx, scenario, target, rps, durationSec, 'run');
  const baselineRuns = scenario.target === 'baseline' ? m.streams : baselines;
  return {
    ...base,
    settings: { durationSec, rps, connections: ctx.connections, concurrency: ctx.concurrency, warmupSec },
    streams: [...baselines, ...m.streams],
    tiers: m.tiers,
    baseline: baselineRuns.map((b) => ({ label: b.name === 'echo' ? 'baseline echo' : b.name, result: b.result })),
    ratio: baselines.map((b) => ({
      label: `all target calls vs ${b.name}`,
      throughput: m.all.okPerSec / Math.max(1e-9, b.result.okPerSec),
      p50: m.all.latencyMs.p50 / Math.max(1e-9, b.result.latencyMs.p50),
      p99: m.all.latencyMs.p99 / Math.max(1e-9, b.result.latencyMs.p99),
    })),
    verdicts: judge(rules, m.tiers),
    invariants: await invariantsFor(scenario, databaseUrl, m),
    stages: m.stages,
  };
}

async function invariantsFor(scenario: Scenario, databaseUrl: string, m: Measured): Promise<InvariantCheck[]> {
  if (scenario.target !== 'stack') return [];
  console.log(`checking invariants in Postgres (${m.acceptedOrders} accepted orders)...`);
  return checkInvariants(databaseUrl, m.orderPrefix, m.acceptedOrders);
}

async function ensureStack(root: string, nginxPort: number, explicitTarget: boolean, dir: string): Promise<void> {
  if (explicitTarget || (await stackIsUp(root, nginxPort))) return;
  if (values['no-start']) throw new Error(`the stack is not running on 127.0.0.1:${nginxPort} (start it with npm run stack)`);
  console.log('starting the stack (npm run stack) ...');
  await startStack(root, nginxPort, join(dir, 'stack.log'));
  console.log('stack is up; it keeps running after the load test (npm run stack:stop ends it)');
}

function provisionAccounts(ctx: RunContext, scenario: Scenario): void {
  for (const st of scenario.streams) {
    if (!st.account || ctx.apiKeys.has(st.account) || st.tier === 'baseline') continue;
    const a = createAccount(ctx.root, TIER_ACCOUNT[st.tier], `${ctx.runId}-${st.account}`);
    ctx.apiKeys.set(st.account, a.apiKey);
    console.log(`account ${st.account}: ${a.accountId} (${a.tier})`);
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`loadtest: ${(e as Error).message}`);
    process.exit(1);
  },
);

