import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { Redis } from 'ioredis';
import { priceBand, type Instrument as InstrumentSpec } from '../../domain/matching/instrument.js';
import { bookStateKey } from '../../domain/matching/keys.js';
import { refusal } from '../../domain/refusals.js';
import {
  InstrumentSchema, ListInstrumentsRequestSchema, ListInstrumentsResponseSchema, type Instrument,
} from '../../gen/tierbook/v1/instrument_service_pb.js';
import type { UnaryHandler } from '../handler.js';
import { registryFor, type InstrumentRegistry } from '../orders/instruments-store.js';
import { decodeRequest } from '../request-decoding.js';

/**
 * ListInstruments: the registry's grid and limits (in memory) with each book's current band
 * centre, the last trade price the matcher keeps in `{bk:SYM}:state` (one pipelined HGET a
 * book). A thread reads them at most once per CACHE_MS and every call in between shares that
 * snapshot, so the call costs an encode, not a Redis round trip.
 */
export const CACHE_MS = 250;

interface Snapshot {
  atMs: number;
  instruments: Instrument[];
}

const snapshots = new WeakMap<Redis, Promise<Snapshot>>();

async function readSnapshot(redis: Redis, registry: InstrumentRegistry): Promise<Snapshot> {
  const list = [...registry.list].sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  const lasts = await Promise.all(list.map((i) => redis.hget(bookStateKey(i.symbol), 'last')));
  return { atMs: Date.now(), instruments: list.map((inst, k) => toProto(inst, lasts[k] ?? null)) };
}

/** The band exactly as the Lua matcher computes it (priceBand shares its rounding). */
function toProto(i: InstrumentSpec, last: string | null): Instrument {
  const centre = last !== null ? BigInt(last) : i.referencePriceTicks;
  const { lo, hi } = priceBand(centre, i.bandBps);
  return create(InstrumentSchema, {
    symbol: i.symbol, tickSize: i.tickSize, lotSize: i.lotSize, minQuantityLots: i.minQty, maxQuantityLots: i.maxQty,
    maxPriceTicks: i.maxPriceTicks, maxNotionalTicks: i.maxNotionalTicks, positionLimitLots: i.positionLimitLots,
    priceBandBps: i.bandBps, referencePriceTicks: centre, bandLowTicks: lo, bandHighTicks: hi, hasTraded: last !== null,
  });
}

function snapshot(redis: Redis, registry: InstrumentRegistry): Promise<Snapshot> {
  const cached = snapshots.get(redis);
  if (cached) return cached;
  const p = readSnapshot(redis, registry);
  snapshots.set(redis, p);
  // Kept for CACHE_MS after it resolved; a failed read is not kept.
  p.then(() => setTimeout(() => snapshots.get(redis) === p && snapshots.delete(redis), CACHE_MS).unref(),
    () => snapshots.get(redis) === p && snapshots.delete(redis));
  return p;
}

export const listInstruments: UnaryHandler = async (ctx, call) => {
  const req = decodeRequest(ListInstrumentsRequestSchema, call.payload);
  const registry = await registryFor(ctx.redis, ctx.config.orders.instrumentsFile);
  for (const [k, s] of req.symbols.entries()) {
    if (!registry.get(s)) throw refusal('UNKNOWN_SYMBOL', { field: `symbols[${k}]`, symbol: s });
  }
  const snap = await snapshot(ctx.redis, registry);
  const wanted = new Set(req.symbols);
  return toBinary(ListInstrumentsResponseSchema, create(ListInstrumentsResponseSchema, {
    instruments: wanted.size ? snap.instruments.filter((i) => wanted.has(i.symbol)) : snap.instruments,
    readTime: timestampFromMs(snap.atMs),
  }));
};
