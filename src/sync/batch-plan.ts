import { decodeEvent, type FillEvent, type OrderState, type PositionState } from '../domain/events.js';
import type { StreamEntry } from './stream-entry.js';

/**
 * What one batch of stream entries means for Postgres once redundant states are dropped:
 * the latest state of each order and position (highest `ver`), each fill once, the symbols
 * and accounts touched. Pure, so property tests can compare it with a reference model.
 */
export interface BatchPlan {
  orders: OrderState[];
  /** Per order (same index as `orders`): price, quantity and version of its oldest state here. */
  placed: { px: string; qty: string; ver: string }[];
  fills: FillEvent[];
  positions: PositionState[];
  symbols: string[];
  /** Accounts whose fills or positions change in this batch: their Redis version is bumped. */
  accounts: string[];
  /** Entries that could not be decoded, with the reason; they take the poison path. */
  rejected: { entry: StreamEntry; reason: string }[];
}

/** Decodes and collapses a batch. Never throws: an undecodable entry lands in `rejected`. */
export function planBatch(entries: readonly StreamEntry[]): BatchPlan {
  const orders = new Map<string, OrderState>();
  const placed = new Map<string, { px: string; qty: string; ver: string }>();
  const fills = new Map<string, FillEvent>();
  const positions = new Map<string, PositionState>();
  const symbols = new Set<string>();
  const accounts = new Set<string>();
  const rejected: BatchPlan['rejected'] = [];
  const addOrder = (o: OrderState): void => {
    const prev = orders.get(o.id);
    if (!prev || verLess(prev.ver, o.ver)) orders.set(o.id, o);
    const first = placed.get(o.id);
    if (!first || verLess(o.ver, first.ver)) placed.set(o.id, { px: o.px, qty: o.qty, ver: o.ver });
    symbols.add(o.sym);
  };
  for (const entry of entries) {
    try {
      const ev = decodeEvent(entry.fields);
      if (ev.kind === 'order') {
        checkOrder(ev.event.order);
        addOrder(ev.event.order);
      } else {
        const f = ev.event;
        checkFill(f);
        // A fill's maker and taker states are upserted from the fill itself: matching writes
        // no order event that repeats them (src/workers/orders/lua/common.lua, match()).
        const states = f.orders ?? [];
        states.forEach(checkOrder);
        states.forEach(addOrder);
        fills.set(f.id, f);
        symbols.add(f.sym);
        accounts.add(f.maker.acct).add(f.taker.acct);
        for (const p of f.positions) {
          const key = `${p.acct}\u0000${p.sym}`;
          const prev = positions.get(key);
          if (!prev || verLess(prev.ver, p.ver)) positions.set(key, p);
          accounts.add(p.acct);
        }
      }
    } catch (err) {
      rejected.push({ entry, reason: `undecodable event: ${(err as Error).message}` });
    }
  }
  const latest = [...orders.values()];
  return {
    orders: latest,
    placed: latest.map((o) => placed.get(o.id) as { px: string; qty: string; ver: string }),
    fills: [...fills.values()],
    positions: [...positions.values()],
    symbols: [...symbols],
    accounts: [...accounts],
    rejected,
  };
}

const INT = /^-?\d+$/;
/** Versions are compared as strings (verLess), so they must be canonical. */
const VER = /^(0|[1-9]\d*)$/;

/**
 * a < b for version strings (non-negative decimal integers, no leading zeros, as the Lua
 * scripts print them): exact at any size, and far cheaper than two BigInts per event.
 */
export function verLess(a: string, b: string): boolean {
  return a.length !== b.length ? a.length < b.length : a < b;
}

function need(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

/** Catches malformed documents here, one by one, rather than as a failed batch in Postgres. */
function checkOrder(o: OrderState): void {
  need(typeof o === 'object' && o !== null, 'order missing');
  need(typeof o.id === 'string' && o.id !== '' && typeof o.acct === 'string' && typeof o.sym === 'string', 'order ids missing');
  for (const f of ['px', 'qty', 'filled', 'notional', 'ctime', 'utime', 'seq'] as const) {
    need(typeof o[f] === 'string' && INT.test(o[f]), `order.${f} is not an integer string`);
  }
  need(typeof o.ver === 'string' && VER.test(o.ver), 'order.ver is not a canonical non-negative integer');
}

function checkFill(f: FillEvent): void {
  need(typeof f.id === 'string' && f.id !== '' && typeof f.sym === 'string', 'fill ids missing');
  for (const k of ['px', 'qty', 'time'] as const) need(typeof f[k] === 'string' && INT.test(f[k]), `fill.${k} is not an integer string`);
  need(typeof f.maker?.acct === 'string' && typeof f.taker?.acct === 'string', 'fill sides missing');
  need(Array.isArray(f.positions), 'fill.positions missing');
  need(f.orders === undefined || Array.isArray(f.orders), 'fill.orders is not a list');
  for (const p of f.positions) {
    for (const k of ['qty', 'cost', 'realized'] as const) need(typeof p[k] === 'string' && INT.test(p[k]), `position.${k} is not an integer string`);
    need(typeof p.ver === 'string' && VER.test(p.ver), 'position.ver is not a canonical non-negative integer');
  }
}
