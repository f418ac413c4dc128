/**
 * The host kill under load: two gateway hosts (whole cluster primaries with their own sync
 * consumers, on 127.0.0.2 and 127.0.0.3) behind one nginx, loaded through nginx and straight
 * to each host, then kill -9 of host 0's whole process tree (test/ops/support/host-kill.ts,
 * which test/ops/two-hosts.test.ts asserts on). Prints, per side of the load, calls sent and
 * failed by status (all, around the kill, later), then what the survivor's sync reclaimed
 * and what Postgres holds: acknowledged orders missing and duplicated rows (both must be 0).
 * Exits 1 if anything acknowledged is missing or doubled.
 *
 *   node dist/bench/host-kill.js [--nginx-rps 150] [--direct-rps 50] [--before-seconds 10]
 *     [--after-seconds 15] [--processes 1]
 */
import { parseArgs } from 'node:util';
import { AROUND_MS, runHostKill, type HostKillReport } from '../test/ops/support/host-kill.js';

const { values: args } = parseArgs({
  options: {
    'nginx-rps': { type: 'string', default: '150' },
    'direct-rps': { type: 'string', default: '50' },
    'before-seconds': { type: 'string', default: '10' },
    'after-seconds': { type: 'string', default: '15' },
    processes: { type: 'string', default: '1' },
  },
});

const failed = (byStatus: Record<string, number>) =>
  Object.entries(byStatus).filter(([k]) => k !== 'OK').map(([k, v]) => `${k} ${v}`).join(', ') || '0';

/** The report as the markdown docs/loadtest.md carries. */
export function hostKillTable(r: HostKillReport): string {
  const rows = [
    '| load side | calls sent | ok | failed by status | failed around the kill | failed sent later |',
    '|---|---:|---:|---|---|---|',
    ...r.sides.map((s) => `| ${s.name} | ${s.sent} | ${s.byStatus.OK ?? 0} | ${failed(s.byStatus)} | ${failed(s.aroundKill)} | ${failed(s.afterKill)} |`),
  ];
  const totals = [
    '',
    '| pending on host 0 at the kill | reclaimed by host 1 | acknowledged orders | orders in Postgres | fills in Postgres | acked missing | duplicates | unbalanced symbols |',
    '|---:|---:|---:|---:|---:|---:|---:|---|',
    `| ${r.pendingAtKill} | ${r.reclaimed} | ${r.acked} | ${r.ordersInPostgres} | ${r.fillsInPostgres} | ${r.ackedMissing} | ${r.duplicates} | ${r.unbalanced.join(', ') || 'none'} |`,
  ];
  return [...rows, ...totals].join('\n');
}

const report = await runHostKill({
  nginxRps: Number(args['nginx-rps']),
  directRps: Number(args['direct-rps']),
  beforeKillMs: Number(args['before-seconds']) * 1000,
  afterKillMs: Number(args['after-seconds']) * 1000,
  processes: Number(args.processes),
});
console.log(`host kill: ${args['nginx-rps']} calls/s through nginx, ${args['direct-rps']} calls/s straight to each host, ` +
  `${args['before-seconds']} s before and ${args['after-seconds']} s after kill -9 of host 0 (around the kill = sent up to ${AROUND_MS} ms after it)\n`);
console.log(hostKillTable(report));
for (const s of report.sides) if (s.samples.length) console.log(`\n${s.name} failures:\n  ${s.samples.join('\n  ')}`);
if (report.positionsDiffer.length) console.log(`\nPostgres positions differ from Redis: ${report.positionsDiffer.slice(0, 10).join(', ')}`);
process.exit(report.ackedMissing === 0 && report.duplicates === 0 && report.unbalanced.length === 0 && report.positionsDiffer.length === 0 ? 0 : 1);
