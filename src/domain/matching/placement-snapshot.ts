import type { FillEvent, OrderState } from '../events.js';
import type { OrderInput } from './order-input.js';

/**
 * The compact record of what a placement answered, kept under its client order id so a retry
 * gets the first result (AIP-155) for the idempotency window, long after the order itself
 * left Redis. The request of a retry carries the same fingerprint, so every field it fixes
 * (symbol, side, type, time in force, price, quantity, post-only, self-trade prevention)
 * comes from the retry itself; the record keeps only what the place script decided:
 *
 *   ctime|ver|status|reason|filled|notional|n:px:qty:m;n:px:qty:m...
 *
 * with fill ids SYM:F<n> and maker order ids SYM:<m>.
 *
 * (The queue sequence is not kept: no reply shows it, and a rebuild could not restore it.)
 *
 * About 40 bytes plus 25 per fill, instead of the ~770-byte JSON reply. The place script
 * (src/workers/orders/lua/common.lua `placementSnap`) writes the same format.
 */

/** A fill as a placement reply carries it: the taker's view (the maker's side is not shown). */
export type PlacementFill = Omit<FillEvent, 'positions' | 'orders'>;

export interface Placement {
  order: OrderState;
  fills: PlacementFill[];
}

/** Encodes a placement answer (used by the rebuild; the script has its own encoder). */
export function encodePlacement(o: OrderState, fills: readonly Pick<FillEvent, 'id' | 'px' | 'qty' | 'maker'>[]): string {
  const fs = fills.map((f) => `${f.id.slice(f.id.lastIndexOf(':F') + 2)}:${f.px}:${f.qty}:${f.maker.order.slice(f.maker.order.lastIndexOf(':') + 1)}`).join(';');
  return [o.ctime, o.ver, o.status, o.reason, o.filled, o.notional, fs].join('|');
}

/** The first result of order `orderId`, rebuilt from its record and the retried request. */
export function decodePlacement(snap: string, orderId: string, accountId: string, input: OrderInput): Placement {
  const [ctime, ver, status, reason, filled, notional, fs] = snap.split('|');
  if (fs === undefined) throw new Error(`malformed placement record for ${orderId}: ${JSON.stringify(snap)}`);
  const order: OrderState = {
    id: orderId, coid: input.coid, acct: accountId, sym: input.symbol, side: input.side, type: input.type,
    tif: input.tif, px: input.price.toString(), qty: input.qty.toString(), filled: filled!, notional: notional!,
    status: status as OrderState['status'], reason: reason!, post: input.postOnly, stp: input.stp,
    ctime: ctime!, utime: ctime!, ver: ver!, seq: '0',
  };
  const makerSide = input.side === 'BUY' ? 'SELL' : 'BUY';
  const fills = fs === '' ? [] : fs.split(';').map((f): PlacementFill => {
    const [n, px, qty, m] = f.split(':');
    return {
      id: `${input.symbol}:F${n}`, sym: input.symbol, px: px!, qty: qty!, time: ctime!,
      // The maker's client order id and account are not the taker's to see; the record omits them.
      maker: { order: `${input.symbol}:${m}`, coid: '', acct: '', side: makerSide },
      taker: { order: orderId, coid: input.coid, acct: accountId, side: input.side },
    };
  });
  return { order, fills };
}
