import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { resolveGhzConfig } from './ghz-config.js';
import { runGhz, withProgress } from './ghz-process.js';
import { mergeStreams, summarise, type GhzReport, type StreamResult } from './ghz-result.js';
import type { StreamRun } from './report.js';
import { streamRps, type Instrument, type Scenario, type StreamSpec } from './scenario.js';
import type { TierName } from './sla.js';
import { scrape, stageRows, type StageRow } from './stage-table.js';

/**
 * One measured run of a scenario at one offered rate: every stream's ghz process starts at
 * once against the target and runs for the same time. The baseline is measured separately
 * (see measureBaseline) so the two never compete for the same two cores.
 */

export interface RunContext {
  root: string;
  ghz: string;
  /** Folder of this invocation's results; ghz files go in its ghz/ subfolder. */
  dir: string;
  /** Prefix of every client order id of this invocation, so Postgres checks find our orders. */
  runId: string;
  instruments: Instrument[];
  /** API key per stream account key. */
  apiKeys: Map<string, string>;
  connections: number;
  concurrency: number;
  /** The stack's /metrics (the admin port), for the per-stage table; unset for the baseline. */
  metricsUrl?: string;
}

export interface Measured {
  streams: StreamRun[];
  tiers: Partial<Record<TierName, StreamResult>>;
  /** All target streams as one, for the ratio to the baseline. */
  all: StreamResult;
  /** OK answers to PlaceOrder, for the "every accepted order is in Postgres" check. */
  acceptedOrders: number;
  /** The client order id prefix of this measurement's orders (run id plus step tag). */
  orderPrefix: string;
  /** Per tier and stage, where the gateways' time went during this measurement. */
  stages: StageRow[];
}

const PEER_LAG_MS = 1000;

function instrumentFor(ctx: RunContext, st: StreamSpec): Instrument {
  return ctx.instruments[(st.symbol ?? 0) % ctx.instruments.length]!;
}

/** The ghz settings every process of a run shares: where, how fast, how long, how wide. */
function ghzSettings(ctx: RunContext, host: string, rps: number, durationSec: number, output: string) {
  return { host, rps, durationSec, connections: ctx.connections, concurrency: ctx.concurrency, output };
}

/** Runs all of `scenario`'s streams at `totalRps` against `host`; `tag` keeps file names apart. */
export async function measure(ctx: RunContext, scenario: Scenario, host: string, totalRps: number, durationSec: number, tag: string): Promise<Measured> {
  const ghzDir = join(ctx.dir, 'ghz');
  mkdirSync(ghzDir, { recursive: true });
  // Each step of a sweep gets its own id part so idempotency keys never repeat across steps.
  const runId = `${ctx.runId}-${tag}`;
  const jobs = scenario.streams.map((st) => {
    const rps = streamRps(st, totalRps);
    const output = join(ghzDir, `${tag}-${st.name}.json`);
    const config = resolveGhzConfig(ctx.root, st, runId, instrumentFor(ctx, st), {
      ...ghzSettings(ctx, host, rps, durationSec, output),
      apiKey: st.account ? ctx.apiKeys.get(st.account) : undefined,
    });
    const configFile = join(ghzDir, `${tag}-${st.name}.config.json`);
    // Cancels and amends name orders their peer stream places; starting them a second later
    // means the orders they name were placed already (ghz has no start delay of its own).
    const done = st.peer
      ? new Promise<void>((r) => setTimeout(r, PEER_LAG_MS)).then(() => runGhz(ctx.ghz, configFile, config, durationSec))
      : runGhz(ctx.ghz, configFile, config, durationSec);
    return { st, rps, done };
  });
  const metricsBefore = scrape(ctx.metricsUrl);
  const reports = await withProgress(`${tag}: ${jobs.length} ghz process(es) at ${totalRps || 'max'} calls/s`, durationSec, Promise.all(jobs.map((j) => j.done)));
  const stages = stageRows(await metricsBefore, await scrape(ctx.metricsUrl));
  return { ...collect(jobs.map((j, i) => ({ st: j.st, rps: j.rps, report: reports[i]! })), runId), stages };
}

function collect(runs: { st: StreamSpec; rps: number; report: GhzReport }[], orderPrefix: string): Omit<Measured, 'stages'> {
  const streams: StreamRun[] = runs.map((r) => ({ name: r.st.name, tier: r.st.tier, rps: r.rps, result: summarise(r.report) }));
  const tiers: Partial<Record<TierName, StreamResult>> = {};
  for (const tier of ['premium', 'shared'] as const) {
    const of = runs.filter((r) => r.st.tier === tier).map((r) => r.report);
    if (of.length) tiers[tier] = mergeStreams(of);
  }
  const acceptedOrders = runs
    .filter((r) => r.report.options.call?.endsWith('/PlaceOrder'))
    .reduce((n, r) => n + (r.report.statusCodeDistribution.OK ?? 0), 0);
  return { streams, tiers, all: mergeStreams(runs.map((r) => r.report)), acceptedOrders, orderPrefix };
}

/**
 * The baseline with the same ghz command as the target's first PlaceOrder stream: same call,
 * same data template, same connections and concurrency, the scenario's whole offered rate.
 */
export async function measureBaseline(ctx: RunContext, scenario: Scenario, host: string, label: string, totalRps: number, durationSec: number): Promise<StreamRun> {
  const model = scenario.streams.find((s) => s.config.startsWith('place-')) ?? scenario.streams[0]!;
  const rps = totalRps === 0 ? 0 : scenario.streams.reduce((n, s) => n + streamRps(s, totalRps), 0);
  const st: StreamSpec = { ...model, name: label, tier: 'baseline', account: undefined };
  const ghzDir = join(ctx.dir, 'ghz');
  mkdirSync(ghzDir, { recursive: true });
  const output = join(ghzDir, `${label}.json`);
  const config = resolveGhzConfig(ctx.root, st, `${ctx.runId}-bl`, instrumentFor(ctx, model), ghzSettings(ctx, host, rps, durationSec, output));
  const report = await withProgress(`${label} at ${rps || 'max'} calls/s`, durationSec, runGhz(ctx.ghz, join(ghzDir, `${label}.config.json`), config, durationSec));
  return { name: label, tier: 'baseline', rps, result: summarise(report) };
}
