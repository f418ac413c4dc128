import { readFileSync } from 'node:fs';
import { validateInstruments, type Instrument } from '../../domain/matching/instrument.js';
import { instrumentKey } from '../../domain/matching/keys.js';
import type { RedisLike } from './scripts.js';

/**
 * The instrument registry: read from a JSON file (config.orders.instrumentsFile), validated,
 * and written into each book's `{bk:SYM}:inst` hash so the Lua scripts read the limits in the
 * same atomic step as the book. Changing an instrument is an edit of the file and a restart;
 * no code changes. The handlers also keep the registry in memory for the static checks
 * (grids, sizes) they do before a script runs.
 */
export interface InstrumentRegistry {
  readonly list: readonly Instrument[];
  get(symbol: string): Instrument | undefined;
}

/** Reads and validates an instruments file; throws with the file and field in the message. */
export function loadInstrumentsFile(path: string): Instrument[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`instruments file ${path}: ${(err as Error).message}`);
  }
  return validateInstruments(raw, path);
}

/** The field names the Lua prelude reads from the instrument hash. */
export function instrumentHash(inst: Instrument): Record<string, string> {
  return {
    symbol: inst.symbol,
    tick: inst.tickSize.toString(),
    lot: inst.lotSize.toString(),
    minq: inst.minQty.toString(),
    maxq: inst.maxQty.toString(),
    maxpx: inst.maxPriceTicks.toString(),
    ref: inst.referencePriceTicks.toString(),
    bps: inst.bandBps.toString(),
    maxnot: inst.maxNotionalTicks.toString(),
    poslim: inst.positionLimitLots.toString(),
  };
}

/** Writes every instrument into its book (idempotent: safe from every process at start). */
export async function publishInstruments(redis: RedisLike, instruments: readonly Instrument[]): Promise<void> {
  await Promise.all(instruments.map((i) => redis.hset(instrumentKey(i.symbol), instrumentHash(i))));
}

/** An in-memory registry over a validated list. */
export function createRegistry(instruments: readonly Instrument[]): InstrumentRegistry {
  const bySymbol = new Map(instruments.map((i) => [i.symbol, i]));
  return { list: instruments, get: (s) => bySymbol.get(s) };
}

const loaded = new WeakMap<RedisLike, Map<string, Promise<InstrumentRegistry>>>();

/**
 * The registry for a connection, loaded from `file` and published once per connection (so
 * once per worker thread): the first call of a thread pays for it, later calls share it.
 */
export function registryFor(redis: RedisLike, file: string): Promise<InstrumentRegistry> {
  let byFile = loaded.get(redis);
  if (!byFile) loaded.set(redis, (byFile = new Map()));
  let p = byFile.get(file);
  if (!p) {
    p = (async () => {
      const list = loadInstrumentsFile(file);
      await publishInstruments(redis, list);
      return createRegistry(list);
    })();
    p.catch(() => byFile!.delete(file)); // a failed load is retried by the next call
    byFile.set(file, p);
  }
  return p;
}
