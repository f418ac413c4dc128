-- amend: ARGV = acct, order id ('' to use the client order id), client order id,
-- new price ('0' keeps it), new total quantity ('0' keeps it).
-- Reducing only the quantity keeps time priority; any other change re-queues the order,
-- and a new price that crosses the book trades at once, as a taker.
local acct = ARGV[1]
local o, refused = workingOrder(acct, 'amended')
if not o then return refused end

local px, qty, filled = tonumber(o.px), tonumber(o.qty), tonumber(o.filled)
local npx, nqty = px, qty
if ARGV[4] ~= '0' then npx = tonumber(ARGV[4]) end
if ARGV[5] ~= '0' then nqty = tonumber(ARGV[5]) end
if nqty <= filled then
  return fail('QUANTITY_OUT_OF_RANGE', 'new_quantity_lots must stay above the ' .. o.filled .. ' lots already filled')
end
if npx == px and nqty == qty then return result(o, {}) end

if npx ~= px then
  local lo, hi = band()
  if npx < lo or npx > hi then
    return fail('PRICE_OUT_OF_BAND', 'new_price_ticks ' .. I(npx) .. ' is outside the band ' .. I(lo) .. '..' .. I(hi))
  end
end
if npx * nqty > tonumber(INST.maxnot) then
  return fail('NOTIONAL_LIMIT_EXCEEDED', 'price_ticks * quantity_lots exceeds the notional limit ' .. INST.maxnot)
end
if nqty > qty and not positionAllows(acct, o.side, nqty - qty) then
  return fail('POSITION_LIMIT_EXCEEDED', 'the amend could take the position beyond the limit of ' .. INST.poslim .. ' lots')
end
local best = bestLevel(oppSide(o.side))
if npx ~= px and o.post == '1' and best and crosses(o.side, best, npx) then
  return fail('POST_ONLY_WOULD_TAKE', 'new_price_ticks would make the post-only order take liquidity')
end

if npx == px and nqty < qty then
  -- Quantity down only: same place in the queue.
  redis.call('HINCRBY', AK(acct, 'pos'), openField(o.side), I(nqty - qty))
  levelQty(o.side, o.px, nqty - qty)
  o.qty = I(nqty)
  bump(o, o.status, '')
  saveOrder(o)
  orderEvent('amended', o)
  return result(o, {})
end

unrest(o)
o.px, o.qty, o.seq = I(npx), I(nqty), I(nextId('seq'))
bump(o, o.status, '')
orderEvent('amended', o)
local fills, stopped = match(o, npx)
settle(o, fills, stopped, true)
return result(o, fills)
