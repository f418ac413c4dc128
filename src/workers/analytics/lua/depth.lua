-- L2 depth of one book, as one consistent snapshot (the matching scripts cannot run in
-- between). KEYS: bid levels, ask levels, book state, bid level lots, ask level lots; all in
-- the book's hash tag, named by src/domain/matching/keys.ts. ARGV: levels a side, queue key
-- prefix for bids and for asks. Returns { bids, asks, last } where each side is a flat list
-- price, quantity, order count (strings: integers leave Lua only as strings).
-- The matching scripts keep each level's resting lots, so the cost is a few reads per
-- level, however many orders rest in it.

local depth = tonumber(ARGV[1])

local function side(levelsKey, lotsKey, queuePrefix, reverse)
  local prices
  if reverse then
    prices = redis.call('ZREVRANGE', levelsKey, 0, depth - 1)
  else
    prices = redis.call('ZRANGE', levelsKey, 0, depth - 1)
  end
  local out = {}
  for _, px in ipairs(prices) do
    local count = redis.call('ZCARD', queuePrefix .. px)
    -- A level only exists while it has orders; an empty queue would be a matcher bug, skip it.
    if count > 0 then
      out[#out + 1] = px
      out[#out + 1] = redis.call('HGET', lotsKey, px) or '0'
      out[#out + 1] = tostring(count)
    end
  end
  return out
end

local last = redis.call('HGET', KEYS[3], 'last') or '0'
return { side(KEYS[1], KEYS[4], ARGV[2], true), side(KEYS[2], KEYS[5], ARGV[3], false), last }
