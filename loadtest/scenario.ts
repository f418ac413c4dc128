import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TierName } from './sla.js';

/**
 * A scenario is a manifest (loadtest/scenarios/<name>.json) of streams; each stream is one ghz
 * process running one ghz config file (loadtest/ghz/*.json) at its share of the offered rate.
 * ghz runs one call per process, so a mix of calls is several processes at weighted rates,
 * all open loop, started together.
 */

export interface StreamSpec {
  name: string;
  tier: TierName | 'baseline';
  /** Key of the account this stream calls as; streams naming the same key share it. */
  account?: string;
  /** ghz config file name in loadtest/ghz/. */
  config: string;
  /** Share of the scenario's offered rate (the shares of a scenario add up to 1). */
  share?: number;
  /** A fixed rate that ignores --rps (noisy neighbour's premium side). */
  fixedRps?: number;
  /** Index into the instruments list: streams on one index trade on one book. */
  symbol?: number;
  /** The stream whose client order ids this one cancels or amends. */
  peer?: string;
}

export interface Scenario {
  name: string;
  description: string;
  target: 'stack' | 'baseline';
  defaults: { rps: number; duration: string; connections: number; concurrency: number };
  streams: StreamSpec[];
}

export function scenarioDir(root: string): string {
  return join(root, 'loadtest', 'scenarios');
}

export function listScenarios(root: string): string[] {
  return readdirSync(scenarioDir(root)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

/** Loads and checks a scenario; errors name the file and the field. */
export function loadScenario(root: string, name: string): Scenario {
  const file = join(scenarioDir(root), `${name}.json`);
  if (!existsSync(file)) throw new Error(`unknown scenario "${name}"; known: ${listScenarios(root).join(', ')}`);
  const s = JSON.parse(readFileSync(file, 'utf8')) as Omit<Scenario, 'name'>;
  if (!Array.isArray(s.streams) || s.streams.length === 0) throw new Error(`${file}: "streams" must be a non-empty array`);
  for (const st of s.streams) {
    if (!existsSync(join(root, 'loadtest', 'ghz', st.config))) throw new Error(`${file}: stream ${st.name}: no ghz config loadtest/ghz/${st.config}`);
    if (st.share === undefined && st.fixedRps === undefined) throw new Error(`${file}: stream ${st.name}: needs "share" or "fixedRps"`);
    if (st.peer && !s.streams.some((o) => o.name === st.peer)) throw new Error(`${file}: stream ${st.name}: peer "${st.peer}" is not a stream`);
  }
  return { name, ...s };
}

/** The rate one stream is offered when the scenario is offered `total` calls/s (0 = closed loop). */
export function streamRps(st: StreamSpec, total: number): number {
  if (st.fixedRps !== undefined) return st.fixedRps;
  if (total === 0) return 0;
  return Math.max(1, Math.round(total * (st.share ?? 0)));
}

/** An instrument as the load needs it: where orders are valid. */
export interface Instrument {
  symbol: string;
  /** A price (ticks) near which orders are placed, a multiple of `tick`; within the band. */
  midTicks: number;
  /** Price step: every price we send is midTicks plus or minus a multiple of it. */
  tick: number;
  /** Smallest valid quantity (a multiple of the lot size, at least the minimum). */
  qtyUnit: number;
  /** Orders are 1 to qtyMax units: small, so risk limits are not what the test measures. */
  qtyMax: number;
}

const FALLBACK: Instrument[] = [
  { symbol: 'AAPL', midTicks: 10_000, tick: 1, qtyUnit: 1, qtyMax: 5 },
  { symbol: 'MSFT', midTicks: 20_000, tick: 1, qtyUnit: 1, qtyMax: 5 },
];

/**
 * Reads config/instruments.json (the matching engine's list): symbol, tickSize, lotSize,
 * minQty, referencePriceTicks. Orders must be on tick and on lot, so the mid is rounded to a
 * tick and quantities are whole units of max(lot, min quantity rounded up to a lot).
 */
export function loadInstruments(file: string): Instrument[] {
  if (!existsSync(file)) return FALLBACK;
  const raw = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const list = (Array.isArray(raw) ? raw : (raw as { instruments?: unknown[] }).instruments ?? []) as Record<string, unknown>[];
  const num = (o: Record<string, unknown>, key: string, def: number): number => {
    const v = o[key];
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
    if (typeof v === 'string' && /^\d+$/.test(v) && Number(v) > 0) return Number(v);
    return def;
  };
  const out = list
    .filter((o) => typeof o.symbol === 'string')
    .map((o) => {
      const tick = num(o, 'tickSize', 1);
      const lot = num(o, 'lotSize', 1);
      const minQty = num(o, 'minQty', lot);
      const ref = num(o, 'referencePriceTicks', 10_000 * tick);
      return {
        symbol: o.symbol as string,
        // At least 200 ticks above zero so deep buys (mid - 150 ticks) stay positive.
        midTicks: Math.max(200 * tick, Math.round(ref / tick) * tick),
        tick,
        qtyUnit: Math.ceil(minQty / lot) * lot,
        qtyMax: 5,
      };
    });
  return out.length ? out : FALLBACK;
}
