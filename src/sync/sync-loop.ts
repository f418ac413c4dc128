import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import type { Config } from '../shared/config.js';
import { AdaptiveBatch } from './adaptive-batch.js';
import { planBatch, type BatchPlan } from './batch-plan.js';
import { deadLetter } from './dead-letter.js';
import { writePlan } from './pg-writer.js';
import { Backoff, isTransient } from './retry.js';
import { entryTimeMs, entryTrace, type StreamEntry } from './stream-entry.js';
import { StreamSource } from './stream-source.js';
import { LagWindow, emptyStats, type SyncStats } from './sync-stats.js';
import { accountVersionKey } from './account-version.js';
import { crossSlotPipeline } from '../shared/redis.js';

export interface SyncLoopDeps {
  /** Makes the Postgres client; called again to replace one that failed. */
  connect: () => Sql;
  /** Dedicated connection: blocks in XREADGROUP. */
  reader: Redis;
  /** Non-blocking commands: XACK, INCR, dead letters, discovery. */
  control: Redis;
  sync: Config['sync'];
  instrumentsFile: string;
  logger: Logger;
}

/** Entries read together and what they mean for Postgres. */
interface Batch {
  entries: StreamEntry[];
  plan: BatchPlan;
}

const EMPTY: Batch = { entries: [], plan: planBatch([]) };

/** A batch transaction taking longer than this is abandoned as if the connection failed. */
const WRITE_TIMEOUT_MS = 60_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`batch write took over ${ms} ms`), { code: 'WRITE_TIMEOUT' })), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** How often kept acknowledgements (see acknowledge) are tried again. */
const SETTLE_RETRY_MS = 1_000;

/** What a batch's acknowledgement could not do yet. */
interface Unsettled {
  entries: StreamEntry[];
  accounts: string[];
}

/** INCRs the accounts' versions (one per account, on its slot); returns the accounts that failed. */
async function bumpAccountVersions(control: Redis, accounts: readonly string[]): Promise<string[]> {
  const pipe = crossSlotPipeline(control);
  for (const a of accounts) pipe.incr(accountVersionKey(a));
  const results = (await pipe.exec()) ?? [];
  return accounts.filter((_, i) => !results[i] || results[i]![0]);
}

/** The longest a read blocks, so a stop request is noticed quickly. */
const IDLE_BLOCK_MS = 250;

/**
 * The write-behind loop: read a batch, write it to Postgres in one transaction, then XACK it
 * and bump the touched accounts' versions. A batch is acknowledged only after its COMMIT, so
 * a crash at any instant leaves every unwritten entry pending in the group (re-read on
 * restart, or reclaimed by another host with XAUTOCLAIM), and redelivery is harmless because
 * every write is idempotent. At most one batch is read ahead while another is written.
 */
export class SyncLoop {
  readonly source: StreamSource;
  readonly stats: SyncStats = emptyStats();
  readonly lag = new LagWindow();
  private readonly batch: AdaptiveBatch;
  private readonly backoff: Backoff;
  private readonly abort = new AbortController();
  private stopping = false;
  private lastClaim = 0;
  /** The last claim pass came back full: a dead consumer's backlog may remain, claim again next. */
  private claimBacklog = false;
  private sql: Sql;
  /** Committed entries and accounts whose XACK or version bump failed: retried by settleLater. */
  private unsettled: { entries: StreamEntry[]; accounts: Set<string> } = { entries: [], accounts: new Set() };
  private settleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SyncLoopDeps) {
    this.source = new StreamSource(deps.reader, deps.control, {
      group: deps.sync.group,
      consumer: deps.sync.consumer,
      instrumentsFile: deps.instrumentsFile,
      logger: deps.logger,
      scanIntervalMs: deps.sync.scanIntervalMs,
    });
    this.batch = new AdaptiveBatch(deps.sync.batchMin, deps.sync.batchMax);
    this.backoff = new Backoff(50, deps.sync.maxBackoffMs);
    this.sql = deps.connect();
  }

  /** Asks the loop to end after the batch in hand (or at once while Postgres is down). */
  stop(): void {
    this.stopping = true;
    this.abort.abort();
  }

  /**
   * Runs until `stop()`. The next batch is read and decoded while the current one is being
   * written (Redis and Postgres work overlap); batches still commit one after the other, and
   * a prefetched batch is only pending, so a crash leaves it to be re-read.
   */
  async run(): Promise<void> {
    let upcoming = this.fetch();
    while (!this.stopping) {
      const batch = await upcoming;
      if (batch === undefined) {
        await this.backoff.wait(this.abort.signal);
        upcoming = this.fetch();
        continue;
      }
      upcoming = this.stopping ? Promise.resolve(EMPTY) : this.fetch();
      if (batch.entries.length === 0) continue;
      await this.commitBatch(batch);
      this.batch.closed(batch.entries.length);
      this.stats.batchTarget = this.batch.target;
    }
    await upcoming; // let an outstanding read settle before the connections close
  }

  /** The next batch, decoded, or undefined after a Redis error (already logged and handled). */
  private async fetch(): Promise<Batch | undefined> {
    try {
      if (this.source.streams.length === 0) await this.source.discover();
      const entries = await this.next();
      this.backoff.reset();
      return { entries, plan: planBatch(entries) };
    } catch (err) {
      this.stats.retries++;
      if (String((err as Error).message).includes('NOGROUP')) {
        // Redis lost the group (flushed, or rebuilt): attach again from the start.
        this.deps.logger.warn('consumer group vanished; discovering streams again');
        this.source.reset();
      } else {
        this.deps.logger.warn({ err: (err as Error).message }, 'reading the event streams failed; backing off');
      }
      return undefined;
    }
  }

  /**
   * Reclaimed entries first (periodically, and back to back while a dead consumer's backlog
   * lasts), else a batch that closes on size or linger time. Without the back-to-back passes
   * a host that died holding thousands of entries would hand them over one batch per
   * claimIdleMs / 2 (15 s by default), keeping its orders out of Postgres for minutes.
   */
  private async next(): Promise<StreamEntry[]> {
    const { claimIdleMs, lingerMs } = this.deps.sync;
    if (this.claimBacklog || Date.now() - this.lastClaim > claimIdleMs / 2) {
      this.lastClaim = Date.now();
      const target = this.batch.target;
      const claimed = await this.source.claimStale(claimIdleMs, target);
      this.stats.reclaimed += claimed.length;
      this.claimBacklog = claimed.length >= target;
      if (claimed.length) return claimed;
    }
    const target = this.batch.target;
    const first = await this.source.read(target, IDLE_BLOCK_MS);
    if (first.length === 0 || first.length >= target || lingerMs === 0) return first;
    const out = first;
    const deadline = Date.now() + lingerMs;
    while (out.length < target && !this.stopping) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const more = await this.source.read(target - out.length, left);
      if (more.length === 0) break;
      for (const e of more) out.push(e);
    }
    return out;
  }

  /**
   * Writes and acknowledges a batch. On a data error (not an outage) the batch is halved until
   * the poison entries are alone; each is retried `maxAttempts` times, then dead-lettered.
   */
  private async commitBatch({ entries, plan }: Batch): Promise<void> {
    for (const { entry, reason } of plan.rejected) await this.poison(entry, reason, 1);
    const bad = new Set(plan.rejected.map((r) => r.entry));
    const good = bad.size ? entries.filter((e) => !bad.has(e)) : entries;
    if (good.length) await this.writeOrSplit(good, plan.rejected.length ? undefined : plan);
  }

  private async writeOrSplit(entries: StreamEntry[], planned?: BatchPlan): Promise<void> {
    const plan = planned ?? planBatch(entries);
    let attempts = 0;
    for (;;) {
      const err = await this.tryWrite(plan);
      if (err === 'stopped') return;
      if (err === undefined) return this.acknowledge(entries, plan.accounts);
      if (entries.length > 1) {
        const half = entries.length >> 1;
        await this.writeOrSplit(entries.slice(0, half));
        await this.writeOrSplit(entries.slice(half));
        return;
      }
      attempts++;
      const entry = entries[0] as StreamEntry;
      if (attempts >= this.deps.sync.maxAttempts) return this.poison(entry, `postgres rejected it: ${err.message}`, attempts);
      this.deps.logger.warn({ stream: entry.stream, id: entry.id, attempts, err: err.message, ...entryTrace(entry) }, 'event failed; retrying');
      await this.backoff.wait(this.abort.signal);
    }
  }

  /** One transaction; waits out outages. Returns the data error, or undefined on COMMIT. */
  private async tryWrite(plan: BatchPlan): Promise<Error | undefined | 'stopped'> {
    const backoff = new Backoff(100, this.deps.sync.maxBackoffMs);
    for (;;) {
      try {
        await withTimeout(writePlan(this.sql, plan), WRITE_TIMEOUT_MS);
        return undefined;
      } catch (err) {
        if (!isTransient(err)) return err as Error;
        this.stats.retries++;
        this.reconnect();
        if (backoff.failures % 10 === 0) this.deps.logger.warn({ err: (err as Error).message, failures: backoff.failures }, 'postgres unavailable; batch kept, retrying');
        if (!(await backoff.wait(this.abort.signal))) return 'stopped';
      }
    }
  }

  /**
   * Replaces the Postgres client after a connection failure: postgres.js 3.4.9 can leave a
   * connection whose buffered write never flushes (porsager/postgres#1208), and a fresh pool
   * is cheap next to a batch that hangs.
   */
  private reconnect(): void {
    const old = this.sql;
    this.sql = this.deps.connect();
    old.end({ timeout: 0 }).catch(() => {});
  }

  /** Closes the Postgres client (after `run` returned), after a last try of what is kept. */
  async close(): Promise<void> {
    clearTimeout(this.settleTimer);
    if (!this.settled) await this.settleLater();
    await this.sql.end({ timeout: 5 });
  }

  /**
   * XACK after COMMIT, then the account versions the analytics cache watches. What fails (a
   * Redis Cluster master away) is kept and tried again in the background (settleLater): the
   * batch is in Postgres, so waiting here would stall every book for the one whose master is
   * lost. An entry left pending is at worst delivered again (harmless: writes are idempotent)
   * and holds back the retention of its own book only (order-sweeper.ts).
   */
  private async acknowledge(entries: StreamEntry[], accounts: string[]): Promise<void> {
    this.keepForLater(await this.ackAndBump(entries, accounts));
    const now = Date.now();
    for (const e of entries) this.lag.add(now - entryTimeMs(e.id));
    this.stats.committed += entries.length;
    this.stats.batches++;
  }

  /** XACKs the entries and bumps the accounts' versions; returns what did not go through. */
  private async ackAndBump(entries: StreamEntry[], accounts: readonly string[]): Promise<Unsettled> {
    const [unacked, unbumped] = await Promise.all([
      entries.length ? this.source.ack(entries).catch(() => [...entries]) : [],
      accounts.length ? bumpAccountVersions(this.deps.control, accounts).catch(() => [...accounts]) : [],
    ]);
    return { entries: unacked, accounts: unbumped };
  }

  private keepForLater(failed: Unsettled): void {
    if (failed.entries.length === 0 && failed.accounts.length === 0) return;
    this.stats.retries++;
    if (this.settled) {
      this.deps.logger.warn({ entries: failed.entries.length, accounts: failed.accounts.length },
        'XACK or version bump failed after commit (a Redis master away?); kept and retried in the background');
    }
    this.keep(failed);
    this.scheduleSettle();
  }

  private keep(failed: Unsettled): void {
    for (const e of failed.entries) this.unsettled.entries.push(e);
    for (const a of failed.accounts) this.unsettled.accounts.add(a);
  }

  private get settled(): boolean {
    return this.unsettled.entries.length === 0 && this.unsettled.accounts.size === 0;
  }

  /** Tries what is kept again; reschedules itself until everything went through. */
  private async settleLater(): Promise<void> {
    const held = { entries: this.unsettled.entries, accounts: [...this.unsettled.accounts] };
    this.unsettled = { entries: [], accounts: new Set() };
    this.keep(await this.ackAndBump(held.entries, held.accounts));
    this.settleTimer = undefined;
    if (this.settled) {
      this.deps.logger.info({ entries: held.entries.length, accounts: held.accounts.length }, 'kept acknowledgements went through');
      return;
    }
    if (!this.stopping) this.scheduleSettle();
  }

  private scheduleSettle(): void {
    this.settleTimer ??= setTimeout(() => void this.settleLater(), SETTLE_RETRY_MS).unref();
  }

  private async poison(entry: StreamEntry, reason: string, attempts: number): Promise<void> {
    this.deps.logger.error({ stream: entry.stream, id: entry.id, reason, attempts, ...entryTrace(entry) }, 'event dead-lettered');
    for (;;) {
      try {
        await deadLetter(this.deps.control, this.deps.sync.group, entry, reason, attempts);
        this.stats.deadLettered++;
        return;
      } catch (err) {
        this.stats.retries++;
        if (!(await this.backoff.wait(this.abort.signal))) return;
      }
    }
  }
}
