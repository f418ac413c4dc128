-- The fills of one book's event stream from an entry id on, with the book's fill counter and
-- the server time, all in one atomic step (so "the counter says N fills exist" and "these are
-- the fills in the stream" describe the same instant). KEYS: the event stream, the book
-- state hash (both in the book's hash tag). ARGV: the first id ('-', an id, or '(' id for
-- exclusive), the most entries to scan. Returns { time ms, fill counter, entries scanned,
-- then id, px, qty, time per fill }.

local t = redis.call('TIME')
local now = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
local counter = redis.call('HGET', KEYS[2], 'fill') or '0'
local entries = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', tonumber(ARGV[2]))
local out = { now, counter, tostring(#entries) }
for _, e in ipairs(entries) do
  local f = e[2]
  local kind, doc
  for i = 1, #f, 2 do
    if f[i] == 'k' then kind = f[i + 1] elseif f[i] == 'd' then doc = f[i + 1] end
  end
  if kind == 'fill' and doc then
    local d = cjson.decode(doc)
    out[#out + 1] = d.id
    out[#out + 1] = d.px
    out[#out + 1] = d.qty
    out[#out + 1] = d.time
  end
end
return out
