/**
 * Analytics handlers against a real Redis and Postgres (migrated), called exactly as a worker
 * thread calls them: encoded request bytes in, response bytes or ApiError out. Fixtures go in
 * through the real schema (fills rows) and the real Redis layout (book state, event streams).
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempFolder, tempJsonFile } from '../../support/temp-files.js';
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import postgres from 'postgres';
import { ApiError } from '../../../src/domain/errors.js';
import { eventStreamKey } from '../../../src/domain/events.js';
import { bookStateKey } from '../../../src/domain/matching/keys.js';
import type { TierName } from '../../../src/domain/tiers.js';
import { loadConfig } from '../../../src/shared/config.js';
import { migrate, readMigrations } from '../../../src/sync/migrate.js';
import { fromRoot } from '../../../src/shared/paths.js';
import type { WorkerContext } from '../../../src/workers/handler.js';
import { analyticsHandlers } from '../../../src/workers/analytics/index.js';
import { startTestPostgres, type TestServer } from '../../support/servers.js';
import { createRedis } from '../../../src/shared/redis.js';
import { startSwitchableRedis, type SwitchableRedis } from '../../support/test-redis.js';

export const INSTRUMENTS = [
  { symbol: 'AAA', tickSize: 1, lotSize: 1, minQty: 1, maxQty: 1000, maxPriceTicks: 100000, referencePriceTicks: 1000, bandBps: 5000, maxNotionalTicks: 10000000, positionLimitLots: 5000 },
  { symbol: 'BBB', tickSize: 5, lotSize: 1, minQty: 1, maxQty: 1000, maxPriceTicks: 100000, referencePriceTicks: 1000, bandBps: 5000, maxNotionalTicks: 10000000, positionLimitLots: 5000 },
  { symbol: 'CCC', tickSize: 1, lotSize: 1, minQty: 1, maxQty: 1000, maxPriceTicks: 100000, referencePriceTicks: 100, bandBps: 5000, maxNotionalTicks: 10000000, positionLimitLots: 5000 },
];

export function writeInstruments(): string {
  return tempJsonFile('an-inst', 'instruments.json', INSTRUMENTS);
}

export interface Harness {
  ctx: WorkerContext;
  redis: Redis;
  sql: postgres.Sql;
  call<I extends DescMessage, O extends DescMessage>(method: string, reqSchema: I, req: MessageInitShape<I>, resSchema: O, opts?: { accountId?: string; tier?: TierName }): Promise<MessageShape<O> | ApiError>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  /**
   * Runs on a database migrated only up to (not including) migration `upgradeFrom`, then the
   * rest is applied: the data a database held before an upgrade.
   */
  beforeUpgrade?: { upgradeFrom: number; seed: (sql: postgres.Sql) => Promise<void> };
}

export async function startHarness(env: Record<string, string> = {}, opts: HarnessOptions = {}): Promise<Harness> {
  const [rs, ps]: [SwitchableRedis, TestServer] = await Promise.all([startSwitchableRedis(), startTestPostgres()]);
  const config = loadConfig({ TIERBOOK_REDIS_URL: rs.url, TIERBOOK_DATABASE_URL: ps.url, TIERBOOK_INSTRUMENTS_FILE: writeInstruments(), ...env });
  const redis = createRedis(rs.url);
  const sql = postgres(ps.url, { onnotice: () => {} });
  if (opts.beforeUpgrade) {
    const dir = tempFolder('an-mig');
    for (const m of readMigrations()) {
      if (m.version < opts.beforeUpgrade.upgradeFrom) copyFileSync(fromRoot('migrations', m.name), join(dir, m.name));
    }
    await migrate(sql, undefined, dir);
    await opts.beforeUpgrade.seed(sql);
  }
  await migrate(sql);
  const ctx: WorkerContext = { config, redis, sql: () => sql, logger: pino({ level: 'silent' }) };
  return {
    ctx, redis, sql,
    async call(method, reqSchema, req, resSchema, opts = {}) {
      const path = `/tierbook.v1.AnalyticsService/${method}`;
      try {
        const out = await analyticsHandlers[path]!(ctx, { method: path, accountId: opts.accountId ?? 'acct-1', tier: opts.tier ?? 'PRO', payload: toBinary(reqSchema, create(reqSchema, req)), deadline: 0, requestId: 't' });
        return fromBinary(resSchema, out);
      } catch (err) {
        if (err instanceof ApiError) return err;
        throw err;
      }
    },
    async stop() {
      redis.disconnect();
      await sql.end({ timeout: 1 });
      await Promise.all([rs.stop(), ps.stop()]);
    },
  };
}

/** A fill fixture: seq n of a symbol's book, at `ms`, between a maker and a taker. */
export interface FixtureFill {
  seq: number;
  ms: number;
  px: number;
  qty: number;
  maker?: string;
  taker?: string;
  takerSide?: 'BUY' | 'SELL';
}

function fillDoc(symbol: string, f: FixtureFill) {
  const takerSide = f.takerSide ?? 'BUY';
  const makerSide = takerSide === 'BUY' ? 'SELL' : 'BUY';
  return {
    id: `${symbol}:F${f.seq}`, sym: symbol, px: String(f.px), qty: String(f.qty), time: String(f.ms),
    maker: { order: `${symbol}:${f.seq * 2}`, coid: '', acct: f.maker ?? 'mk', side: makerSide },
    taker: { order: `${symbol}:${f.seq * 2 + 1}`, coid: '', acct: f.taker ?? 'tk', side: takerSide },
    positions: [],
  };
}

/** Inserts fills as the sync would have committed them, and moves the book's fill counter. */
export async function commitFills(h: Harness, symbol: string, fills: FixtureFill[]): Promise<void> {
  for (const f of fills) {
    const d = fillDoc(symbol, f);
    await h.sql`INSERT INTO fills (fill_id, symbol, price, quantity, executed_at, maker_order_id, maker_coid, maker_account_id, maker_side, taker_order_id, taker_coid, taker_account_id, taker_side)
      VALUES (${d.id}, ${symbol}, ${f.px}, ${f.qty}, tierbook_ms(${f.ms}), ${d.maker.order}, '', ${d.maker.acct}, ${d.maker.side}, ${d.taker.order}, '', ${d.taker.acct}, ${d.taker.side})`;
    await h.redis.hset(bookStateKey(symbol), 'fill', String(f.seq), 'last', String(f.px));
  }
}

/** Appends fills to the book's event stream only: fills the matcher made and the sync has not committed. */
export async function streamFills(h: Harness, symbol: string, fills: FixtureFill[]): Promise<void> {
  for (const f of fills) {
    await h.redis.xadd(eventStreamKey(symbol), '*', 'k', 'fill', 'd', JSON.stringify(fillDoc(symbol, f)));
    await h.redis.hset(bookStateKey(symbol), 'fill', String(f.seq), 'last', String(f.px));
  }
}

/** Marks every entry of the book's stream so far as committed: a consumer group past them all. */
export async function markCommitted(h: Harness, symbol: string, group = 'pg-sync'): Promise<void> {
  const stream = eventStreamKey(symbol);
  try {
    await h.redis.xgroup('CREATE', stream, group, '$', 'MKSTREAM');
  } catch {
    await h.redis.xgroup('SETID', stream, group, '$');
  }
}

export function ok<T>(r: T | ApiError): T {
  if (r instanceof ApiError) throw new Error(`expected success, got ${r.reason}: ${r.message}`);
  return r;
}

export function err(r: unknown): ApiError {
  if (!(r instanceof ApiError)) throw new Error('expected an ApiError, got success');
  return r;
}
