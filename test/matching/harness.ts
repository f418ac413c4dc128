/**
 * Test harness for the order handlers: a real Redis (standalone or a 3-node cluster), a
 * WorkerContext on it, and `call()` that runs a handler on encoded request bytes exactly as a
 * worker thread would, decoding the response or returning the ApiError.
 */
import { tempJsonFile } from '../support/temp-files.js';
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { pino } from 'pino';
import type { Cluster, Redis } from 'ioredis';
import { ApiError } from '../../src/domain/errors.js';
import { loadConfig } from '../../src/shared/config.js';
import type { WorkerContext } from '../../src/workers/handler.js';
import { orderHandlers } from '../../src/workers/orders/index.js';
import { createRedis } from '../../src/shared/redis.js';
import { flushAll } from '../support/test-redis.js';

/** Instruments for tests: small limits so every risk check is easy to reach. */
export const TEST_INSTRUMENTS = [
  { symbol: 'AAA', tickSize: 1, lotSize: 1, minQty: 1, maxQty: 1000, maxPriceTicks: 100000, referencePriceTicks: 1000, bandBps: 2000, maxNotionalTicks: 500000, positionLimitLots: 5000 },
  { symbol: 'BBB', tickSize: 5, lotSize: 10, minQty: 10, maxQty: 1000, maxPriceTicks: 100000, referencePriceTicks: 1000, bandBps: 2000, maxNotionalTicks: 1000000, positionLimitLots: 5000 },
  { symbol: 'CCC', tickSize: 1, lotSize: 1, minQty: 1, maxQty: 100, maxPriceTicks: 100000, referencePriceTicks: 100, bandBps: 5000, maxNotionalTicks: 1000000, positionLimitLots: 150 },
];

export function writeInstruments(list: unknown = TEST_INSTRUMENTS): string {
  return tempJsonFile('inst', 'instruments.json', list);
}

export function workerContext(redis: Redis | Cluster, opts: { instrumentsFile?: string; maxBatchOrders?: number } = {}): WorkerContext {
  const config = loadConfig({
    TIERBOOK_INSTRUMENTS_FILE: opts.instrumentsFile ?? writeInstruments(),
    TIERBOOK_MAX_BATCH_ORDERS: String(opts.maxBatchOrders ?? 100),
  });
  return {
    config,
    redis: redis as Redis, // the handlers only use commands a Cluster client has too
    sql: () => { throw new Error('no postgres in matching tests'); },
    logger: pino({ level: 'silent' }),
  };
}

const SVC = '/tierbook.v1.OrderService/';

/** Runs one handler on encoded bytes; returns the decoded response or the ApiError thrown. */
export async function call<I extends DescMessage, O extends DescMessage>(
  ctx: WorkerContext, method: string, reqSchema: I, req: MessageInitShape<I>, resSchema: O, accountId = 'acct-1',
): Promise<MessageShape<O> | ApiError> {
  const bytes = toBinary(reqSchema, create(reqSchema, req));
  return callRaw(ctx, method, bytes, resSchema, accountId);
}

export async function callRaw<O extends DescMessage>(
  ctx: WorkerContext, method: string, bytes: Uint8Array, resSchema: O, accountId = 'acct-1',
): Promise<MessageShape<O> | ApiError> {
  const h = orderHandlers[SVC + method];
  if (!h) throw new Error(`no handler ${method}`);
  try {
    const out = await h(ctx, { method: SVC + method, accountId, tier: 'PRO', payload: bytes, deadline: 0, requestId: 't' });
    return fromBinary(resSchema, out);
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
}

/** Asserts a result is not an error and returns it typed. */
export function ok<T>(r: T | ApiError): T {
  if (r instanceof ApiError) throw new Error(`expected success, got ${r.reason}: ${r.message}`);
  return r;
}

/**
 * A clean exchange for one test: an empty Redis and a fresh connection (so the worker-side
 * caches, such as the instrument registry, start empty too). Call `closeAll()` in after().
 */
export function exchangeFactory(url: () => string, opts: { maxBatchOrders?: number } = {}) {
  const open: RedisClient[] = [];
  return {
    async fresh(): Promise<WorkerContext> {
      const r = createRedis(url());
      open.push(r);
      await flushAll(r);
      return workerContext(r, opts);
    },
    closeAll(): void {
      for (const r of open) r.disconnect();
    },
  };
}
type RedisClient = Redis;
