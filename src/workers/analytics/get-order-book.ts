import { readFileSync } from 'node:fs';
import { create, toBinary } from '@bufbuild/protobuf';
import type { Redis } from 'ioredis';
import { bookStateKey, levelQtyKey, levelsKey, queueKey } from '../../domain/matching/keys.js';
import { GetOrderBookRequestSchema, GetOrderBookResponseSchema, PriceLevelSchema, type PriceLevel } from '../../gen/tierbook/v1/analytics_service_pb.js';
import { fromRoot } from '../../shared/paths.js';
import type { UnaryHandler } from '../handler.js';
import { analyticsContext, listedSymbol } from './analytics-context.js';
import { decodeRequest, invalidField } from '../request-decoding.js';
import { msTimestamp } from './request-checks.js';

/**
 * GetOrderBook: L2 depth straight from the book in Redis, never cached (it changes with
 * every order). One Lua script reads the top N levels of both sides and sums each level's
 * resting quantity and order count in a single atomic step, so the snapshot is never torn
 * (a level counted on one side while a match moves it) and costs one round trip.
 */
const DEFAULT_DEPTH = 10;
const MAX_DEPTH = 100;

type DepthReply = [string[], string[], string];
type DepthCommand = (bids: string, asks: string, state: string, lotsB: string, lotsS: string, depth: string, qb: string, qs: string) => Promise<DepthReply>;

const defined = new WeakMap<Redis, DepthCommand>();

function depthScript(redis: Redis): DepthCommand {
  let cmd = defined.get(redis);
  if (!cmd) {
    redis.defineCommand('tierbook_an_depth', { lua: readFileSync(fromRoot('src', 'workers', 'analytics', 'lua', 'depth.lua'), 'utf8'), numberOfKeys: 5 });
    const r = redis as unknown as Record<string, DepthCommand>;
    cmd = (...args) => r['tierbook_an_depth']!.call(redis, ...args);
    defined.set(redis, cmd);
  }
  return cmd;
}

/** Reads the top `depth` levels a side of a symbol's book. */
export async function readDepth(redis: Redis, symbol: string, depth: number): Promise<{ bids: PriceLevel[]; asks: PriceLevel[]; last: bigint }> {
  const [bids, asks, last] = await depthScript(redis)(
    levelsKey(symbol, 'B'), levelsKey(symbol, 'S'), bookStateKey(symbol), levelQtyKey(symbol, 'B'), levelQtyKey(symbol, 'S'),
    String(depth), queueKey(symbol, 'B', ''), queueKey(symbol, 'S', ''),
  );
  return { bids: levels(bids), asks: levels(asks), last: BigInt(last) };
}

function levels(flat: string[]): PriceLevel[] {
  const out: PriceLevel[] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) {
    out.push(create(PriceLevelSchema, { priceTicks: BigInt(flat[i]!), quantityLots: BigInt(flat[i + 1]!), orderCount: BigInt(flat[i + 2]!) }));
  }
  return out;
}

export const getOrderBook: UnaryHandler = async (ctx, call) => {
  const req = decodeRequest(GetOrderBookRequestSchema, call.payload);
  const a = await analyticsContext(ctx);
  const inst = listedSymbol(a, req.symbol);
  if (req.depth < 0 || req.depth > MAX_DEPTH) throw invalidField('depth', `must be between 1 and ${MAX_DEPTH} (0 means ${DEFAULT_DEPTH}), got ${req.depth}`);
  const book = await readDepth(ctx.redis, inst.symbol, req.depth || DEFAULT_DEPTH);
  return toBinary(GetOrderBookResponseSchema, create(GetOrderBookResponseSchema, {
    symbol: inst.symbol,
    bids: book.bids,
    asks: book.asks,
    lastPriceTicks: book.last,
    asOfTime: msTimestamp(Date.now()),
  }));
};
