/**
 * Chaos under load: the real dev stack (own folder, free ports) under a steady mixed load
 * through nginx, and in turn a SIGKILL of one gateway process, the cluster primary (gateways
 * and sync), Redis, Postgres and nginx, each restarted as in production (bench/chaos-faults.ts).
 * Per fault it prints one row: calls sent, failed by status, the outage, when calls succeed
 * again, acknowledged orders missing from Postgres, duplicated rows, whether positions sum
 * to zero, and when the sync lag was back under its level before the kill. Then the failed
 * PlaceOrder calls are retried with their client_order_id (what AIP-194 clients do) and must
 * neither duplicate nor be lost. Last, what `appendfsync always` (no loss window on a host
 * crash) costs in PlaceOrder/s against the stack's everysec (bench/chaos-fsync.ts). Exits 1 if
 * any row loses or duplicates anything.
 *
 *   node dist/bench/chaos.js [--rps 100] [--processes 2] [--warm-seconds 6] [--after-seconds 5]
 *     [--restart-delay-ms 1000] [--ghz-rps 20]
 *     [--fsync-seconds 8] [--fsync-rounds 2] [--only redis,nginx] [--keep]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { FAULTS, restart, type Fault } from './chaos-faults.js';
import { startLoad, type RunningLoad } from './chaos-load.js';
import { duplicatedRows, missingOrders, openSql, startLagProbe, unbalancedSymbols } from './chaos-checks.js';
import { longestWithoutOk, markdownTable, outage, syncLag, timeline, type FaultRow } from './chaos-report.js';
import { startGhzProbe } from './chaos-ghz.js';
import { measureFsyncCost } from './chaos-fsync.js';
import { createChaosStack, type ChaosStack } from './chaos-stack.js';

const { values: args } = parseArgs({
  options: {
    rps: { type: 'string', default: '100' },
    processes: { type: 'string', default: '2' },
    'warm-seconds': { type: 'string', default: '6' },
    'after-seconds': { type: 'string', default: '5' },
    'restart-delay-ms': { type: 'string', default: '1000' },
    'deadline-ms': { type: 'string', default: '3000' },
    'ghz-rps': { type: 'string', default: '20' },
    'fsync-seconds': { type: 'string', default: '8' },
    'fsync-rounds': { type: 'string', default: '2' },
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const log = (line: string) => console.log(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}`);

/** Waits until every call ended in the last `quietMs` succeeded (and some did), bounded. */
async function recovered(load: RunningLoad, since: number, quietMs: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const recent = load.calls.filter((c) => c.endAt > Math.max(since, Date.now() - quietMs));
    if (Date.now() - since > quietMs && recent.length > 0 && recent.every((c) => c.code === 'OK')) return true;
    await sleep(100);
  }
  return false;
}

async function runFault(stack: ChaosStack, fault: Fault, keys: [string, string], runId: string): Promise<FaultRow> {
  const prefix = `${runId}-${FAULTS.indexOf(fault)}`;
  const sql = openSql(stack.databaseUrl);
  const load = startLoad({ target: stack.target, apiKeys: keys, rps: Number(args.rps), prefix, deadlineMs: Number(args['deadline-ms']), maxInFlight: 4000 });
  const probe = startLagProbe(sql, load.acked);
  const ghz = Number(args['ghz-rps']) > 0 ? startGhzProbe(stack.target, keys[0], Number(args['ghz-rps']), join(stack.dir, `ghz-${prefix}.json`)) : undefined;
  let ghzStatuses: Record<string, number> = {};
  try {
    await sleep(Number(args['warm-seconds']) * 1000);
    const killedAt = Date.now();
    log(`${fault.name}: killed ${await fault.kill(stack)}`);
    const back = await restart(stack, fault, killedAt, Number(args['restart-delay-ms']));
    log(`${fault.name}: ${fault.restartedBy} had it back after ${(back.readyAfterMs / 1000).toFixed(2)} s (${back.attempts} stack up)`);
    // Why a try was refused (the stack prints the part's own last log lines).
    for (const line of back.log.split('\n').filter((l) => /failed|exited|FATAL|error/i.test(l)).slice(0, 6)) log(`  refused try: ${line.trim()}`);
    if (!(await recovered(load, killedAt, 2000, 60_000))) log(`${fault.name}: calls still failing 60 s after the kill`);
    await sleep(Number(args['after-seconds']) * 1000);
    const loadEnd = Date.now();
    await load.stop();
    ghzStatuses = (await ghz?.stop()) ?? {};
    // Let the probe see the sync catch up with the last acknowledgements.
    const lastAck = load.acked.at(-1)?.ackAt ?? 0;
    for (let i = 0; i < 300 && !probe.samples.some((s) => s.ackAt >= lastAck); i++) await sleep(100);
    await probe.stop();

    // The client's retry of every failed PlaceOrder, with the same client_order_id.
    const retried = { total: load.failedOrders.length, alreadyPlaced: 0, placedNow: 0, failed: 0 };
    const retriedIds: string[] = [];
    for (const f of load.failedOrders) {
      const r = await load.retryPlace(f);
      if (r.code !== 'OK') retried.failed++;
      else {
        retriedIds.push(r.orderId!);
        if (r.createdAt! < r.sentAt - 50) retried.alreadyPlaced++;
        else retried.placedNow++;
      }
    }
    load.close();
    const ackedIds = [...load.acked.map((a) => a.orderId), ...retriedIds];
    const missing = await missingOrders(sql, ackedIds, 60_000);
    const unbalanced = await unbalancedSymbols(sql);
    const o = outage(load.calls, killedAt);
    const row: FaultRow = {
      fault: fault.name,
      restartedBy: fault.restartedBy,
      calls: load.calls.length,
      failedByStatus: o.failedByStatus,
      outageS: o.outageS,
      okAgainS: o.okAgainS,
      restartAttempts: back.attempts,
      backS: back.readyAfterMs / 1000,
      noOkS: longestWithoutOk(load.calls, killedAt, loadEnd),
      ghz: ghzStatuses,
      failedBefore: load.calls.filter((c) => c.endAt < killedAt && c.code !== 'OK').length,
      missing: missing.length,
      duplicated: await duplicatedRows(sql, prefix),
      positionsZero: unbalanced.length === 0,
      ...syncLag(probe.samples, killedAt),
      retried,
      examples: o.examples,
    };
    log(`${fault.name}: ${JSON.stringify({ ...row, examples: undefined, skipped: load.skipped })}`);
    for (const e of row.examples) log(`  e.g. ${e}`);
    log(`  by second sent (ok/failed), 0s = the kill: ${timeline(load.calls, killedAt)}`);
    if (missing.length) log(`  missing order ids: ${missing.slice(0, 10).join(', ')}`);
    if (unbalanced.length) log(`  unbalanced: ${unbalanced.join(', ')}`);
    return row;
  } finally {
    await load.stop();
    await probe.stop();
    if (ghz && Object.keys(ghzStatuses).length === 0) await ghz.stop().catch(() => undefined);
    await sql.end({ timeout: 2 });
  }
}

const faults = args.only ? FAULTS.filter((f) => args.only!.split(',').some((w) => f.name.toLowerCase().includes(w.trim().toLowerCase()))) : FAULTS;
const stack = await createChaosStack({ processes: Number(args.processes) });
let exitCode = 0;
try {
  const up = await stack.up();
  if (up.code !== 0) throw new Error(`stack up failed:\n${up.out}`);
  log(`stack up in ${stack.dir}: nginx ${stack.target}, ${args.processes} gateway processes`);
  const account = async (tier: string) => (JSON.parse((await stack.tierbook(['accounts', 'create', '--tier', tier, '--name', `chaos-${tier.toLowerCase()}`, '--json'])).trim().split('\n').at(-1)!) as { apiKey: string }).apiKey;
  const keys: [string, string] = [await account('ELITE'), await account('PRO')];
  const runId = `chaos-${Date.now()}`;
  const rows: FaultRow[] = [];
  for (const fault of faults) rows.push(await runFault(stack, fault, keys, runId));
  console.log(`\nchaos: ${args.rps} calls/s from grpc-js (6 PlaceOrder : 2 GetOrder : 2 GetPortfolio) and ${args["ghz-rps"]} GetOrderBook/s from ghz, ${args.processes} gateway processes, restart delay ${args['restart-delay-ms']} ms\n`);
  console.log(markdownTable(rows));
  if (Number(args['fsync-seconds']) > 0) {
    const c = await measureFsyncCost({ target: stack.target, redisUrl: stack.env.TIERBOOK_REDIS_URL!, apiKeys: keys, seconds: Number(args['fsync-seconds']), rounds: Number(args['fsync-rounds']), concurrency: 32 });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const fmt = (xs: number[]) => `${mean(xs).toFixed(0)} (${xs.map((x) => x.toFixed(0)).join(', ')})`;
    console.log(`\nRedis appendfsync, closed-loop PlaceOrder through nginx (32 concurrent calls, ${args['fsync-rounds']} x ${args['fsync-seconds']} s each, alternating; ${c.failed} failed)\n`);
    console.log('| appendfsync | PlaceOrder OK/s: mean (rounds) |\n| --- | ---: |');
    console.log(`| everysec (the stack's) | ${fmt(c.everysec)} |\n| always | ${fmt(c.always)} (${((mean(c.always) / mean(c.everysec) - 1) * 100).toFixed(0)} %) |`);
  }
  if (rows.some((r) => r.missing > 0 || r.duplicated > 0 || !r.positionsZero)) exitCode = 1;
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  if (args.keep) log(`stack kept in ${stack.dir}; stop it with TIERBOOK_STACK_DIR=${stack.dir} node dist/src/devstack/cli.js down`);
  else await stack.down();
}
process.exit(exitCode);
