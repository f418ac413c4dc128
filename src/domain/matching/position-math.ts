/**
 * Positions with the average-cost method in exact integers (bigint). The Lua matcher does
 * the same arithmetic with doubles kept below 2^53; this is the plain reference for it.
 */
export interface Position {
  /** Signed lots: positive long, negative short. */
  qty: bigint;
  /** Signed cost basis of the open lots (ticks*lots): same sign as qty, 0 when flat. */
  cost: bigint;
  /** Realized PnL in ticks*lots. */
  realized: bigint;
}

function abs(n: bigint): bigint {
  return n < 0n ? -n : n;
}

/**
 * The position after trading `dq` signed lots at `price`. Closing k of |qty| lots releases
 * floor(|cost| * k / |qty|) of cost; the rounding residue stays with the open lots, so
 * closing everything releases the whole cost and a round trip's PnL is exact.
 */
export function applyFill(p: Position, dq: bigint, price: bigint): Position {
  const { qty, cost } = p;
  if (qty === 0n || qty > 0n === dq > 0n) {
    return { qty: qty + dq, cost: cost + dq * price, realized: p.realized };
  }
  const k = abs(dq) < abs(qty) ? abs(dq) : abs(qty);
  const released = (abs(cost) * k) / abs(qty);
  let realized = p.realized;
  let nq: bigint;
  let nc: bigint;
  if (qty > 0n) {
    realized += price * k - released;
    nc = cost - released;
    nq = qty - k;
  } else {
    realized += released - price * k;
    nc = cost + released;
    nq = qty + k;
  }
  if (abs(dq) > k) {
    // The trade flips the position: the rest opens at this price.
    const rest = abs(dq) - k;
    nq = dq > 0n ? rest : -rest;
    nc = nq * price;
  }
  return { qty: nq, cost: nc, realized };
}
