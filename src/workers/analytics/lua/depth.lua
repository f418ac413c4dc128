-- L2 depth of one book, as one consistent snapshot (the matching scripts cannot run in
-- between). KEYS: bid levels, ask levels, book state; all in the book's hash tag, named by
-- src/domain/matching/keys.ts. ARGV: levels a side, queue key prefix for bids and for asks,
-- order key prefix. Returns { bids, asks, last } where each side is a flat list
-- price, quantity, order count (strings: integers leave Lua only as strings).

local depth = tonumber(ARGV[1])

local function I(n)
  if n == 0 then return '0' end
  return string.format('%.0f', n)
end

local function side(levelsKey, queuePrefix, reverse)
  local prices
  if reverse then
    prices = redis.call('ZREVRANGE', levelsKey, 0, depth - 1)
  else
    prices = redis.call('ZRANGE', levelsKey, 0, depth - 1)
  end
  local out = {}
  for _, px in ipairs(prices) do
    local ids = redis.call('ZRANGE', queuePrefix .. px, 0, -1)
    local qty = 0
    for _, id in ipairs(ids) do
      local h = redis.call('HMGET', ARGV[4] .. id, 'qty', 'filled')
      qty = qty + tonumber(h[1] or '0') - tonumber(h[2] or '0')
    end
    -- A level only exists while it has orders; an empty queue would be a matcher bug, skip it.
    if #ids > 0 then
      out[#out + 1] = px
      out[#out + 1] = I(qty)
      out[#out + 1] = I(#ids)
    end
  end
  return out
end

local last = redis.call('HGET', KEYS[3], 'last') or '0'
return { side(KEYS[1], ARGV[2], true), side(KEYS[2], ARGV[3], false), last }
