/**
 * The instrument model: what may be traded on one book and within which limits. Prices are
 * integer ticks of the exchange's base tick; an instrument's `tickSize` says which multiples
 * of it are valid prices. Quantities likewise are base lots, valid in multiples of `lotSize`.
 *
 * Every limit is a bigint, and `validateInstrument` proves the products the Lua matcher
 * computes stay below 2^53, where Lua's doubles are still exact integers.
 */

/** Lua numbers are doubles: every integer the matcher computes must stay below this. */
export const LUA_EXACT_LIMIT = 2n ** 53n;

/** Symbols: upper-case letters, digits, '.', '_' and '-'; no ':' or braces (keys, ids). */
export const SYMBOL_PATTERN = /^[A-Z0-9][A-Z0-9._-]{0,15}$/;

export interface Instrument {
  symbol: string;
  /** Valid prices are positive multiples of this many base ticks. */
  tickSize: bigint;
  /** Valid quantities are positive multiples of this many base lots. */
  lotSize: bigint;
  minQty: bigint;
  maxQty: bigint;
  /** The highest price accepted at all, in ticks. */
  maxPriceTicks: bigint;
  /** The band centre until the first trade (afterwards: the last trade price). */
  referencePriceTicks: bigint;
  /** Half-width of the price band in basis points of the centre (0..10000). */
  bandBps: bigint;
  /** Largest price * quantity of one order, in ticks*lots. */
  maxNotionalTicks: bigint;
  /** Largest absolute position an account may reach, counting its working orders. */
  positionLimitLots: bigint;
}

const FIELDS = [
  'tickSize', 'lotSize', 'minQty', 'maxQty', 'maxPriceTicks', 'referencePriceTicks',
  'bandBps', 'maxNotionalTicks', 'positionLimitLots',
] as const;

function integerField(raw: Record<string, unknown>, where: string, name: string): bigint {
  const v = raw[name];
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^\d{1,19}$/.test(v)) return BigInt(v);
  throw new Error(`${where}.${name} must be a non-negative integer (number or decimal string), got ${JSON.stringify(v)}`);
}

/**
 * Checks one instrument and returns it typed; throws with a message naming the field.
 * `where` prefixes messages (e.g. the file and index).
 */
export function validateInstrument(raw: unknown, where: string): Instrument {
  if (!raw || typeof raw !== 'object') throw new Error(`${where} must be an object`);
  const r = raw as Record<string, unknown>;
  if (typeof r.symbol !== 'string' || !SYMBOL_PATTERN.test(r.symbol)) {
    throw new Error(`${where}.symbol must match ${SYMBOL_PATTERN}, got ${JSON.stringify(r.symbol)}`);
  }
  const inst = { symbol: r.symbol } as Instrument;
  for (const f of FIELDS) inst[f] = integerField(r, where, f);
  const at = `${where} (${inst.symbol})`;
  const positive = ['tickSize', 'lotSize', 'minQty', 'maxQty', 'maxPriceTicks', 'referencePriceTicks', 'maxNotionalTicks', 'positionLimitLots'] as const;
  for (const f of positive) if (inst[f] <= 0n) throw new Error(`${at}.${f} must be positive`);
  if (inst.minQty > inst.maxQty) throw new Error(`${at}.minQty must not exceed maxQty`);
  if (inst.minQty % inst.lotSize !== 0n || inst.maxQty % inst.lotSize !== 0n) {
    throw new Error(`${at}.minQty and maxQty must be multiples of lotSize`);
  }
  if (inst.referencePriceTicks % inst.tickSize !== 0n || inst.referencePriceTicks > inst.maxPriceTicks) {
    throw new Error(`${at}.referencePriceTicks must be on the tick grid and at most maxPriceTicks`);
  }
  if (inst.bandBps > 10_000n) throw new Error(`${at}.bandBps must be at most 10000`);
  // The products the matcher forms, each of which must be an exact double in Lua.
  const products: [string, bigint][] = [
    // A market order's notional is checked at the band edge, which can reach 2 * maxPriceTicks.
    ['2 * maxPriceTicks * maxQty', 2n * inst.maxPriceTicks * inst.maxQty],
    ['maxPriceTicks * positionLimitLots', inst.maxPriceTicks * inst.positionLimitLots],
    ['positionLimitLots^2 (average-cost split)', inst.positionLimitLots * inst.positionLimitLots],
    ['maxPriceTicks * 10000 (band)', inst.maxPriceTicks * 10_000n],
    ['maxNotionalTicks', inst.maxNotionalTicks],
  ];
  for (const [what, v] of products) {
    if (v >= LUA_EXACT_LIMIT) throw new Error(`${at}: ${what} = ${v} must stay below 2^53 for exact Lua arithmetic`);
  }
  return inst;
}

/** Validates a whole registry (an array of instruments); symbols must be unique. */
export function validateInstruments(raw: unknown, where: string): Instrument[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new Error(`${where} must be a non-empty array of instruments`);
  const seen = new Set<string>();
  return raw.map((r, i) => {
    const inst = validateInstrument(r, `${where}[${i}]`);
    if (seen.has(inst.symbol)) throw new Error(`${where}[${i}].symbol ${inst.symbol} is listed twice`);
    seen.add(inst.symbol);
    return inst;
  });
}

/** The price band [lo, hi] around a centre price: the integer rounding the Lua matcher uses. */
export function priceBand(centre: bigint, bandBps: bigint): { lo: bigint; hi: bigint } {
  const half = (centre * bandBps) / 10_000n;
  return { lo: centre - half, hi: centre + half };
}
