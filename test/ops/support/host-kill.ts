/**
 * The host-kill scenario shared by test/ops/two-hosts.test.ts (which asserts on it) and
 * bench/host-kill.ts (which prints it): open-loop load from both sides (through nginx, and
 * straight to each host's gateway), then kill -9 of host 0's whole process tree under load.
 * Host 0's sync holds its batches for a while (long linger), so at the kill it certainly has
 * entries delivered but not acknowledged: the survivor must reclaim them. Then the Postgres
 * invariants: every acknowledged order there once, no duplicate rows, positions sum to zero.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { eventStreamKey } from '../../../src/domain/events.js';
import { fromRoot } from '../../../src/shared/paths.js';
import { loadInstrumentsFile } from '../../../src/workers/orders/index.js';
import { startLoad, type CallRecord, type RunningLoad } from '../../../bench/chaos-load.js';
import { duplicatedRows, missingOrders, unbalancedSymbols } from '../../../bench/chaos-checks.js';
import { pgPositions, redisPositions } from '../../sync/support/pg-state.js';
import { startTwoHosts, type TwoHosts } from './hosts.js';

/** Pending entries idle this long are reclaimed (both hosts); short so the test is short. */
export const CLAIM_IDLE_MS = 4_000;
/** Host 0's sync lingers this long over each batch: less than CLAIM_IDLE_MS, so it is never robbed alive. */
const VICTIM_LINGER_MS = 2_500;

export interface HostKillOptions {
  /** Calls/s through nginx, and straight to each host. */
  nginxRps: number;
  directRps: number;
  beforeKillMs: number;
  afterKillMs: number;
  /** Gateway processes per host. */
  processes?: number;
}

/** One side of the load and what happened to its calls. */
export interface SideReport {
  name: 'nginx' | 'host 0 (killed)' | 'host 1';
  sent: number;
  byStatus: Record<string, number>;
  /**
   * Calls that ended after the kill and were sent before it or within 1 s after it, by status:
   * those in flight on the dead host, and those nginx had already sent on a connection it kept
   * open to it (a call that reached an upstream is not retried on another).
   */
  aroundKill: Record<string, number>;
  /** Calls sent at least AROUND_MS after the kill, by status. */
  afterKill: Record<string, number>;
  /** A few failure messages, for the log. */
  samples: string[];
  calls: CallRecord[];
}

export interface HostKillReport {
  sides: SideReport[];
  /** Entries host 0's consumer had pending right after the kill. */
  pendingAtKill: number;
  /** Entries host 1's sync reclaimed after the kill (its tierbook_sync_reclaimed_total delta). */
  reclaimed: number;
  /** Reclaimed by host 1 before the kill (should be 0: host 0 was alive). */
  reclaimedBeforeKill: number;
  /** Host 0's consumer's pending entries once the survivor caught up. */
  pendingAfter: number;
  acked: number;
  ordersInPostgres: number;
  fillsInPostgres: number;
  ackedMissing: number;
  duplicates: number;
  unbalanced: string[];
  /** Postgres positions differ from Redis (account/symbol keys). */
  positionsDiffer: string[];
  killAt: number;
}

/** Pending entries of one consumer over every book's stream. */
export async function pendingOf(redis: Redis, group: string, consumer: string, streams: string[]): Promise<number> {
  let n = 0;
  for (const s of streams) {
    const rows = (await redis.xpending(s, group, '-', '+', 1_000_000, consumer).catch(() => [])) as unknown[];
    n += rows.length;
  }
  return n;
}

/** The window after the kill in which a call may still have been routed to the dead host. */
export const AROUND_MS = 1_000;

const count = (calls: CallRecord[]) => calls.reduce<Record<string, number>>((m, c) => ((m[c.code] = (m[c.code] ?? 0) + 1), m), {});

function side(name: SideReport['name'], load: RunningLoad, killAt: number): SideReport {
  const calls = load.calls;
  return {
    name,
    sent: calls.length,
    byStatus: count(calls),
    aroundKill: count(calls.filter((c) => c.sentAt < killAt + AROUND_MS && c.endAt >= killAt)),
    afterKill: count(calls.filter((c) => c.sentAt >= killAt + AROUND_MS)),
    samples: [...new Set(calls.filter((c) => c.code !== 'OK').map((c) => `${c.method} ${c.code}: ${c.detail}`))].slice(0, 6),
    calls,
  };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

/** Starts two hosts, runs the scenario, stops everything, returns what happened. */
export async function runHostKill(o: HostKillOptions): Promise<HostKillReport> {
  const env = {
    TIERBOOK_SYNC_CLAIM_IDLE_MS: String(CLAIM_IDLE_MS),
    TIERBOOK_SYNC_MAX_BACKOFF_MS: '300',
    // GetPortfolio reads Postgres, which the sync loads hard here; the tiers' 20-50 ms query
    // timeouts are a protection for another test (DEADLINE_EXCEEDED), not what this one is about.
    ...Object.fromEntries(['LITE', 'PRO', 'ELITE', 'BLACK'].map((t) => [`TIERBOOK_PG_TIMEOUT_MS_${t}`, '2000'])),
  };
  const stack: TwoHosts = await startTwoHosts({
    processes: o.processes ?? 1,
    env,
    // The victim's sync holds what it reads for a while, in batches as large as allowed.
    hostEnv: { 0: { TIERBOOK_SYNC_LINGER_MS: String(VICTIM_LINGER_MS), TIERBOOK_SYNC_BATCH_MIN: '100000', TIERBOOK_SYNC_BATCH_MAX: '100000' } },
  });
  try {
    const [victim, survivor] = stack.hosts as [TwoHosts['hosts'][number], TwoHosts['hosts'][number]];
    const streams = loadInstrumentsFile(fromRoot('config', 'instruments.json')).map((i) => eventStreamKey(i.symbol));
    const buyer = await stack.createAccount('ELITE');
    const seller = await stack.createAccount('PRO');
    const keys: [string, string] = [buyer.apiKey, seller.apiKey];
    const common = { apiKeys: keys, deadlineMs: 5_000, maxInFlight: 200 };
    const loads = {
      nginx: startLoad({ ...common, target: stack.target, rps: o.nginxRps, prefix: 'via-nginx' }),
      victim: startLoad({ ...common, target: victim.gatewayTargets[0]!, rps: o.directRps, prefix: 'to-host0' }),
      survivor: startLoad({ ...common, target: survivor.gatewayTargets[0]!, rps: o.directRps, prefix: 'to-host1' }),
    };
    await sleep(o.beforeKillMs);
    const reclaimedBeforeKill = await survivor.metric('tierbook_sync_reclaimed_total');
    const killAt = Date.now();
    await victim.kill9();
    const pendingAtKill = await pendingOf(stack.redis, 'pg-sync', victim.consumer, streams);
    await sleep(o.afterKillMs);
    await Promise.all(Object.values(loads).map((l) => l.stop()));
    for (const l of Object.values(loads)) l.close();

    const acked = Object.values(loads).flatMap((l) => l.acked.map((a) => a.orderId));
    const missing = await missingOrders(stack.sql, acked, 60_000);
    // The survivor has taken over everything the dead consumer held.
    await until('the dead consumer has nothing pending', async () => (await pendingOf(stack.redis, 'pg-sync', victim.consumer, streams)) === 0, 60_000);
    await until('every stream acknowledged', async () => {
      for (const s of streams) if (Number(((await stack.redis.xpending(s, 'pg-sync').catch(() => [0])) as [number])[0]) !== 0) return false;
      return true;
    }, 60_000);
    // The sync thread posts its counters once a second: give the last claim time to show.
    const reclaimedNow = () => survivor.metric('tierbook_sync_reclaimed_total').then((n) => n - reclaimedBeforeKill);
    await until('the reclaim counted', async () => (await reclaimedNow()) >= pendingAtKill, 5_000).catch(() => {});
    const reclaimed = await reclaimedNow();
    const pendingAfter = await pendingOf(stack.redis, 'pg-sync', victim.consumer, streams);
    const [rows] = await stack.sql<{ orders: number; fills: number }[]>`
      select (select count(*)::int from orders) as orders, (select count(*)::int from fills) as fills`;
    const pg = await pgPositions(stack.sql);
    const rd = await redisPositions(stack.redis);
    const positionsDiffer = [...new Set([...pg.keys(), ...rd.keys()])].filter((k) => JSON.stringify(pg.get(k)) !== JSON.stringify(rd.get(k)));
    return {
      sides: [side('nginx', loads.nginx, killAt), side('host 0 (killed)', loads.victim, killAt), side('host 1', loads.survivor, killAt)],
      pendingAtKill,
      reclaimed,
      reclaimedBeforeKill,
      pendingAfter,
      acked: acked.length,
      ordersInPostgres: rows!.orders,
      fillsInPostgres: rows!.fills,
      ackedMissing: missing.length,
      // Prefix '%': every client order id (they all hold a dash), whichever side placed it.
      duplicates: await duplicatedRows(stack.sql, '%'),
      unbalanced: await unbalancedSymbols(stack.sql),
      positionsDiffer,
      killAt,
    };
  } finally {
    await stack.stop();
  }
}
