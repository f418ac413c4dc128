-- sweep: removes finished orders whose events the sync has committed to Postgres.
-- ARGV = committed bound (epoch ms, exclusive: every event of this book's stream older than
-- it is in Postgres), idempotency window (ms), the most orders to remove.
-- For each order of `fin` below the bound: its hash and its entry in the account's `all`
-- index go (Postgres answers for it from now on); its client order id record keeps only
-- fingerprint, order id and first-result snapshot, and expires when the idempotency window
-- after placement ends (at once if that is past). `state.swept` keeps the newest index member
-- removed, so ListOrders knows when older pages need Postgres. Returns the number removed.
local bound, window, limit = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local ids = redis.call('ZRANGEBYSCORE', K('fin'), '-inf', '(' .. bound, 'LIMIT', '0', limit)
local swept = redis.call('HGET', K('state'), 'swept') or ''
for _, id in ipairs(ids) do
  local h = redis.call('HMGET', K('o:' .. id), 'acct', 'coid', 'lx', 'ctime', 'status')
  if h[1] and h[5] ~= 'NEW' and h[5] ~= 'PARTIALLY_FILLED' then
    local acct, coid, lx = h[1], h[2], h[3]
    redis.call('DEL', K('o:' .. id))
    redis.call('ZREM', AK(acct, 'all'), lx)
    if lx > swept then swept = lx end
    if coid ~= '' then
      local ck = CK(acct, coid)
      if redis.call('HGET', ck, 'oid') == id then
        redis.call('HDEL', ck, 'res')
        redis.call('PEXPIREAT', ck, I(math.max(tonumber(h[4]) + window, tonumber(NOW))))
      end
    end
  end
end
callOver('ZREM', K('fin'), ids) -- every id read, removed or gone already
if swept ~= '' then redis.call('HSET', K('state'), 'swept', swept) end
return #ids
