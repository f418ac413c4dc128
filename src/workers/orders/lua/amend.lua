-- amend: ARGV = acct, order id ('' to use the client order id), client order id,
-- new price ('0' keeps it), new total quantity ('0' keeps it), [traceparent].
-- Reducing only the quantity keeps time priority; any other change re-queues the order,
-- and a new price that crosses the book trades at once, as a taker.
local acct = ARGV[1]
TP = ARGV[6] or ''
local o, refused = workingOrder(acct, 'amended', true)
if not o then return refused end

local px, qty, filled = tonumber(o.px), tonumber(o.qty), tonumber(o.filled)
local npx, nqty = px, qty
if ARGV[4] ~= '0' then npx = tonumber(ARGV[4]) end
if ARGV[5] ~= '0' then nqty = tonumber(ARGV[5]) end
if nqty <= filled then
  return fail('QUANTITY_OUT_OF_RANGE', { field = 'new_quantity_lots', quantity_lots = I(nqty),
    min_quantity_lots = I(math.max(filled + tonumber(INST.lot), tonumber(INST.minq))), max_quantity_lots = INST.maxq,
    filled_lots = o.filled })
end
if npx == px and nqty == qty then return result(o, {}) end

if npx ~= px then
  local lo, hi, centre = band()
  if npx < lo or npx > hi then return outOfBand('new_price_ticks', npx, lo, hi, centre) end
end
if npx * nqty > tonumber(INST.maxnot) then
  return overNotional((nqty ~= qty) and 'new_quantity_lots' or 'new_price_ticks', npx, nqty)
end
if nqty > qty then
  local overLimit = positionRefusal(acct, o.side, nqty - qty, 'new_quantity_lots')
  if overLimit then return overLimit end
end
local best = bestLevel(oppSide(o.side))
if npx ~= px and o.post == '1' and best and crosses(o.side, best, npx) then
  return fail('POST_ONLY_WOULD_TAKE', { field = 'new_price_ticks', price_ticks = I(npx), best_price_ticks = I(best) })
end

if npx == px and nqty < qty then
  -- Quantity down only: same place in the queue.
  addOpen(acct, o.side, nqty - qty)
  levelQty(o.side, o.px, nqty - qty)
  o.qty = I(nqty)
  bump(o, o.status, '')
  saveChange(o)
  orderEvent('amended', o)
  return result(o, {})
end

unrest(o)
o.px, o.qty, o.seq = I(npx), I(nqty), I(nextSeq())
bump(o, o.status, '')
orderEvent('amended', o)
local fills, stopped = match(o, npx)
settle(o, fills, stopped, true)
return result(o, fills)
