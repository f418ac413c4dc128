import type { FillEvent, OrderState } from '../../domain/events.js';
import { encodePlacement } from '../../domain/matching/placement-snapshot.js';

/**
 * What a PlaceOrder call answered when the order was placed: the order right after its place
 * script and the fills it took as the taker. Redis keeps that answer under the client order
 * id so a retry gets the first response (AIP-155); Postgres keeps only the order's latest
 * state, so a rebuild reconstructs it from the order as placed plus its taker fills.
 *
 * Exact when the order was never amended (placed_ver = 1): one place script runs at one
 * instant (utime = ctime), fills as the taker only happen in it, and its end status follows
 * from the fills and the time in force. Not restorable: the positions each fill reported at
 * the time (left empty); and an order canceled later by self-trade prevention (as a resting
 * maker) within the same millisecond as its placement is taken as answered with that cancel.
 * An owner's cancel is never part of a place script, so it is recognised by its reason
 * whatever the clock says.
 */
export function placementResult(order: OrderState, placed: { px: string; qty: string }, takerFills: FillEvent[]): string {
  // Same shape as the place script's reply: {o = order state, f = fills}.
  return JSON.stringify({ o: placementOrder(order, placed, takerFills), f: takerFills });
}

/** The same answer as the compact record the place script keeps (placement-snapshot.ts). */
export function placementSnapshot(order: OrderState, placed: { px: string; qty: string }, takerFills: FillEvent[]): string {
  return encodePlacement(placementOrder(order, placed, takerFills), takerFills);
}

function placementOrder(order: OrderState, placed: { px: string; qty: string }, takerFills: FillEvent[]): OrderState {
  let filled = 0n;
  let notional = 0n;
  for (const f of takerFills) {
    filled += BigInt(f.qty);
    notional += BigInt(f.px) * BigInt(f.qty);
  }
  const o: OrderState = { ...order, px: placed.px, qty: placed.qty, filled: String(filled), notional: String(notional), utime: order.ctime };
  // Versions as the place script gives them: 1 when accepted, one more per fill it took, one
  // more if it then expired (common.lua match/settle).
  const k = takerFills.length;
  const canceledLaterByOwner = order.status === 'CANCELED' && order.reason === 'CANCELED_BY_OWNER';
  const untouched = !canceledLaterByOwner && order.utime === order.ctime && BigInt(order.filled) === filled && order.qty === placed.qty;
  if (untouched || order.status === 'REJECTED') {
    // Its last change happened in the place script itself (the script's clock does not move):
    // the current state is the answer, including a self-trade-prevention cancel.
    Object.assign(o, { status: order.status, reason: order.reason, ver: order.ver });
  } else if (filled === BigInt(placed.qty)) {
    Object.assign(o, { status: 'FILLED', reason: '', ver: String(1 + k) });
  } else if (order.tif !== 'GTC') {
    Object.assign(o, { status: 'EXPIRED', reason: 'NO_LIQUIDITY', ver: String(2 + k) });
  } else if (filled > 0n) {
    Object.assign(o, { status: 'PARTIALLY_FILLED', reason: '', ver: String(1 + k) });
  } else {
    Object.assign(o, { status: 'NEW', reason: '', ver: '1' });
  }
  return o;
}
