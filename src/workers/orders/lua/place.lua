-- place: ARGV = acct, coid, fingerprint, side, type, tif, px, qty, post ('1'|'0'), stp,
-- [traceparent]. Idempotency, risk, matching, positions and events in one atomic step.
local acct, coid, fp = ARGV[1], ARGV[2], ARGV[3]
TP = ARGV[11] or ''
local side, otype, tif, px, qty, post, stp = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]

if not listed() then return fail('UNKNOWN_SYMBOL', 'symbol is not listed') end

-- A retry with the same client order id returns the first result; other content is refused.
-- The record keeps only the first result's changing fields ({r = order id, s = snapshot});
-- records written before snapshots existed keep the whole reply in `res`.
if coid ~= '' then
  local prev = redis.call('HMGET', CK(acct, coid), 'fp', 'oid', 'snap', 'res')
  if prev[1] then
    if prev[1] == fp then
      if prev[3] then return '{"r":"' .. prev[2] .. '","s":' .. js(prev[3]) .. '}' end
      return prev[4]
    end
    return fail('DUPLICATE_CLIENT_ORDER_ID', 'client_order_id ' .. coid .. ' was already used for a different order')
  end
end

-- Pre-trade risk, against the book state this same script is about to change.
local nqty = tonumber(qty)
local lo, hi, centre = band()
local limit
if otype == 'MARKET' then
  if side == 'BUY' then limit = hi else limit = lo end
  if hi * nqty > tonumber(INST.maxnot) then return overNotional('quantity_lots', hi, nqty) end
else
  limit = tonumber(px)
  if limit < lo or limit > hi then return outOfBand('price_ticks', limit, lo, hi, centre) end
  if limit * nqty > tonumber(INST.maxnot) then return overNotional('quantity_lots', limit, nqty) end
end
local overLimit = positionRefusal(acct, side, nqty, 'quantity_lots')
if overLimit then return overLimit end

local ctr = nextOrderId()
local id = SYM .. ':' .. I(ctr)
local t = { id = id, coid = coid, acct = acct, sym = SYM, side = side, type = otype, tif = tif,
  px = px, qty = qty, filled = '0', notional = '0', status = 'NEW', reason = '', post = post,
  stp = stp, ctime = NOW, utime = NOW, ver = '1', seq = I(nextSeq()),
  lx = string.format('%013.0f:%012.0f:', tonumber(NOW), ctr) .. id }
redis.call('ZADD', AK(acct, 'all'), '0', t.lx)

local fills = {}
local best = post == '1' and bestLevel(oppSide(side))
if best and crosses(side, best, limit) then
  t.status, t.reason = 'REJECTED', 'POST_ONLY_WOULD_TAKE'
  saveOrder(t)
  orderEvent('rejected', t)
else
  orderEvent('accepted', t)
  if tif == 'FOK' and not fillable(t, limit, nqty) then
    bump(t, 'EXPIRED', 'NO_LIQUIDITY')
    orderEvent('expired', t)
    saveOrder(t)
  else
    local stopped
    fills, stopped = match(t, limit)
    settle(t, fills, stopped, tif == 'GTC')
  end
end

if coid ~= '' then redis.call('HSET', CK(acct, coid), 'fp', fp, 'oid', id, 'snap', placementSnap(t, fills)) end
return result(t, fills)
