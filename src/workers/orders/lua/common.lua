-- Shared prelude of every book function: src/shared/book-library.ts builds one Redis Functions
-- library from it and place/cancel/amend/sweep.lua, each of which becomes the body of a
-- function that starts with begin(). The helpers below are created once, when the library
-- is loaded, not on every call; what belongs to one call is the per-call state just below.
--
-- KEYS[1] is the book's instrument hash "{bk:SYM}:inst". Every other key is derived from its
-- "{bk:SYM}" prefix, so all keys share the book's hash tag and cluster slot (the functions run
-- unchanged on Redis Cluster). Numbers are Lua doubles: instruments are validated so every
-- product formed here stays below 2^53; running totals that can grow without bound
-- (realized PnL) are kept by HINCRBY in Redis' int64 and read back as strings. Integers
-- leave Lua only as strings (I()), never through cjson's 14-digit number encoding.

-- Per-call state, set by begin() at the start of every call (a library may not have globals,
-- and its locals outlive a call, so each one is set afresh, never left from the last call):
-- the call's KEYS and ARGV, the book's key prefix "{bk:SYM}" and symbol, Redis' clock (epoch
-- ms, a string), the instrument's limits once listed() read them, and the calling request's
-- W3C traceparent ('' for none; a function sets it from its last ARGV).
local KEYS, ARGV, P, SYM, NOW, INST, TP
-- What a call writes once, at its end (finish()), instead of a command per change: the
-- book's fill counter and last price (TRADED, FILL_ID, LAST), the accounts' positions (POS,
-- in first-use order in POSL), the finished orders' `fin` entries (FIN) and the makers taken
-- off the book, by `open` index (GONE, its keys in first-use order in GONEL). A function
-- either returns (and finish() writes them) or fails on a bug before it, when nothing it did
-- is consistent anyway.
local TRADED, FILL_ID, LAST, POS, POSL, FIN, GONE, GONEL

-- A function sees the Redis API and Lua's libraries only through its globals table's
-- __index (Redis 7.0), a metamethod call on every use, and not at all while the library
-- loads. begin() copies them into these locals once per call; every use after that is a
-- plain upvalue read (a 3-fill taker reads them some 300 times).
local function runtimeGlobals() return redis, cjson, string, math, table, tonumber, ipairs, unpack end
local redis, cjson, string, math, table, tonumber, ipairs, unpack

-- Arguments to redis.call go as strings: a Lua number costs a "%.14g" sprintf each time,
-- as does concatenating one (the account key prefix is therefore made once per account
-- and call, in ACCTS).
local ACCTS
local function K(s) return P .. ':' .. s end
-- Account ids are free-form: length-prefixing keeps "a:b"+"c" apart from "a"+"b:c".
local function acctPrefix(acct)
  local pre = ACCTS[acct]
  if not pre then pre = #acct .. ':' .. acct .. ':'; ACCTS[acct] = pre end
  return pre
end
local function AK(acct, s) return P .. ':a:' .. acctPrefix(acct) .. s end
local function CK(acct, coid) return P .. ':c:' .. acctPrefix(acct) .. coid end

-- '%d' prints the integer (no "-0"; exact below 2^53, as every number here is) at half the
-- cost of '%.0f', whose float formatting was a tenth of a 3-fill taker's instructions.
local function I(n) return string.format('%d', n) end

-- Sets the per-call state; the first statement of every function.
local function begin(keys, args)
  redis, cjson, string, math, table, tonumber, ipairs, unpack = runtimeGlobals()
  KEYS, ARGV = keys, args
  P = string.sub(keys[1], 1, #keys[1] - 5)
  SYM = string.sub(P, 5, #P - 1) -- "{bk:SYM}" -> SYM
  local time = redis.call('TIME')
  NOW = I(tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000))
  INST, TP, ACCTS = nil, '', {}
  TRADED, POS, POSL, FIN, GONE, GONEL = false, nil, nil, nil, nil, nil -- tables made at first use
end

-- One command over a list of arguments, at most 256 of them per call (unpack puts them all
-- on Lua's C stack; a taker crossing many makers can make thousands).
local function callOver(cmd, key, args)
  for i = 1, #args, 256 do redis.call(cmd, key, unpack(args, i, math.min(i + 255, #args))) end
end

-- A refusal: its reason and the facts behind it (field names, bounds, limits: strings), which
-- become the ErrorInfo metadata; the one wording of each reason is built from them in
-- src/domain/refusals.ts. A plain string instead of facts is ignored.
local function fail(reason, facts) return cjson.encode({ e = reason, d = facts }) end

-- An order's hash as a table; nil if there is none. HMGET of its fields in saveOrder's order,
-- not HGETALL: Redis makes half the Lua strings (no field names), and a table constructor
-- sizes the table once instead of growing it field by field (both show in a taker's profile).
local function loadOrder(key)
  local h = redis.call('HMGET', key, 'id', 'coid', 'acct', 'sym', 'side', 'type', 'tif', 'px', 'qty', 'filled',
    'notional', 'status', 'reason', 'post', 'stp', 'ctime', 'utime', 'ver', 'seq', 'lx')
  if not h[1] then return nil end
  return { id = h[1], coid = h[2], acct = h[3], sym = h[4], side = h[5], type = h[6], tif = h[7], px = h[8], qty = h[9],
    filled = h[10], notional = h[11], status = h[12], reason = h[13], post = h[14], stp = h[15], ctime = h[16],
    utime = h[17], ver = h[18], seq = h[19], lx = h[20] }
end

-- Exact floor(n / d) for non-negative integers below 2^53: the double quotient can be off by
-- one ulp, so the remainder corrects it.
local function idiv(n, d)
  local q = math.floor(n / d)
  local r = n - q * d
  if r < 0 then q = q - 1 elseif r >= d then q = q + 1 end
  return q
end

-- Reads the instrument's limits the scripts use into INST; false for a symbol that is not
-- listed. Only the scripts that check limits call it (HMGET of eight fields costs a third of
-- HGETALL's Lua table building).
local function listed()
  local h = redis.call('HMGET', KEYS[1], 'symbol', 'lot', 'minq', 'maxq', 'ref', 'bps', 'maxnot', 'poslim')
  if not h[1] then return false end
  INST = { symbol = h[1], lot = h[2], minq = h[3], maxq = h[4], ref = h[5], bps = h[6], maxnot = h[7], poslim = h[8] }
  return true
end

-- The book's state hash: its id counters (oid, seq, fill) and the last trade price. Order ids
-- and sequence numbers are one HINCRBY each (a call takes at most two); the fill counter and
-- the last price, which a taker changes once per fill, are read at the first fill and written
-- once by finish(). Upvalues, not a table: a resting order, the hot case, pays for every
-- allocation and every number formatted.
local function nextOrderId() return redis.call('HINCRBY', K('state'), 'oid', '1') end
local function nextSeq() return redis.call('HINCRBY', K('state'), 'seq', '1') end

local function nextFillId()
  if not TRADED then
    TRADED, FILL_ID = true, tonumber(redis.call('HGET', K('state'), 'fill') or '0')
  end
  FILL_ID = FILL_ID + 1
  return FILL_ID
end

-- The price band's centre: the last trade, this call's own if it traded.
local function lastPrice()
  if TRADED then return LAST end
  return redis.call('HGET', K('state'), 'last')
end

local function writeState()
  if TRADED then redis.call('HSET', K('state'), 'fill', I(FILL_ID), 'last', LAST) end
end

-- An order's whole hash: for a new order, or one whose price, quantity or queue place changed.
local function saveOrder(o)
  redis.call('HSET', K('o:' .. o.id), 'id', o.id, 'coid', o.coid, 'acct', o.acct, 'sym', o.sym, 'side', o.side,
    'type', o.type, 'tif', o.tif, 'px', o.px, 'qty', o.qty, 'filled', o.filled, 'notional', o.notional,
    'status', o.status, 'reason', o.reason, 'post', o.post, 'stp', o.stp, 'ctime', o.ctime, 'utime', o.utime,
    'ver', o.ver, 'seq', o.seq, 'lx', o.lx)
end

-- The fields a fill, a cancel or a quantity cut change (bump() and match()): a 20-field HSET
-- into a listpack hash costs about four times these seven.
local function saveChange(o)
  redis.call('HSET', K('o:' .. o.id), 'qty', o.qty, 'filled', o.filled, 'notional', o.notional,
    'status', o.status, 'reason', o.reason, 'utime', o.utime, 'ver', o.ver)
end

-- JSON is written by hand: cjson.encode of a table costs several times the concatenation.
-- Every value is a string the scripts made (ids, enums, integers) except the free-form
-- account and client order ids, which go through js(): a JSON string, escaped by cjson only
-- when it needs escaping.
local function js(s)
  if string.find(s, '[%c"\\]') then return cjson.encode(s) end
  return '"' .. s .. '"'
end

-- The event contract's OrderState (src/domain/events.ts), as JSON.
local function stateOf(o)
  return '{"id":"' .. o.id .. '","coid":' .. js(o.coid) .. ',"acct":' .. js(o.acct) .. ',"sym":"' .. o.sym
    .. '","side":"' .. o.side .. '","type":"' .. o.type .. '","tif":"' .. o.tif .. '","px":"' .. o.px
    .. '","qty":"' .. o.qty .. '","filled":"' .. o.filled .. '","notional":"' .. o.notional
    .. '","status":"' .. o.status .. '","reason":"' .. o.reason .. '","post":' .. ((o.post == '1') and 'true' or 'false')
    .. ',"stp":"' .. o.stp .. '","ctime":"' .. o.ctime .. '","utime":"' .. o.utime .. '","ver":"' .. o.ver
    .. '","seq":"' .. o.seq .. '"}'
end

-- A position after a fill (the event contract's PositionState), as JSON.
local function positionJson(p)
  return '{"acct":' .. js(p.acct) .. ',"sym":"' .. SYM .. '","qty":"' .. p.qty .. '","cost":"' .. p.cost
    .. '","ver":"' .. p.ver .. '","realized":"' .. p.realized .. '"}'
end

-- Appends one event (its JSON document) to the book's stream; returns the entry id. With the
-- caller's traceparent (TP) it carries a third field `tp`, so the sync's logs and dead letters
-- name the caller's trace; without one the entry is exactly as before.
local function emit(kind, json)
  if TP == '' then return redis.call('XADD', K('events'), '*', 'k', kind, 'd', json) end
  return redis.call('XADD', K('events'), '*', 'k', kind, 'd', json, 'tp', TP)
end

local function isWorking(o) return o.status == 'NEW' or o.status == 'PARTIALLY_FILLED' end

-- `fin` (order id scored by the stream time of the event that carries its final state) is
-- what the retention sweeper (sweep.lua) reads to remove orders whose events the sync
-- committed. The score goes as the id's millisecond digits (a string: no sprintf).
local function finishedAt(eid, o)
  if not FIN then FIN = {} end
  FIN[#FIN + 1] = string.match(eid, '^(%d+)')
  FIN[#FIN + 1] = o.id
end

local function orderEvent(change, o)
  local eid = emit('order', '{"change":"' .. change .. '","order":' .. stateOf(o) .. '}')
  if not isWorking(o) then finishedAt(eid, o) end
end

-- What a retry of a placement answers, compactly (src/domain/matching/placement-snapshot.ts
-- decodes it; the request itself supplies every field the fingerprint fixes):
-- "ctime|ver|status|reason|filled|notional|n:px:qty:m;..." (fill SYM:F<n>, maker order SYM:<m>).
local function placementSnap(o, fills)
  local fs = {}
  for i, f in ipairs(fills) do
    fs[i] = string.sub(f.id, #SYM + 3) .. ':' .. f.px .. ':' .. f.qty .. ':' .. string.sub(f.maker, #SYM + 2)
  end
  return table.concat({ o.ctime, o.ver, o.status, o.reason, o.filled, o.notional, table.concat(fs, ';') }, '|')
end

-- One change of an order: new status, a newer version, the time.
local function bump(o, status, reason)
  o.status = status
  o.reason = reason
  o.ver = I(tonumber(o.ver) + 1)
  o.utime = NOW
end

local function bookSide(side) if side == 'BUY' then return 'B' end return 'S' end
local function oppSide(side) if side == 'BUY' then return 'S' end return 'B' end
local function openField(side) if side == 'BUY' then return 'ob' end return 'os' end
local function crosses(side, level, limit)
  if side == 'BUY' then return level <= limit end
  return level >= limit
end

-- The best price of a book side, as a number and as the member string (nil if empty).
local function bestLevel(bs)
  local r
  if bs == 'S' then r = redis.call('ZRANGE', K('px:S'), '0', '0') else r = redis.call('ZREVRANGE', K('px:B'), '0', '0') end
  if r[1] then return tonumber(r[1]), r[1] end
  return nil
end

-- The resting lots of each price level (`lq:B` / `lq:S`: price -> lots), changed wherever a
-- resting order's remaining quantity changes, so that depth reads one field per level
-- instead of every order in it (src/workers/analytics/lua/depth.lua).
local function levelQty(side, px, delta)
  if delta ~= 0 then redis.call('HINCRBY', K('lq:' .. bookSide(side)), px, I(delta)) end
end

-- An account's position as the scripts work on it: numbers (qty q, cost c, version v, the
-- lots its working orders hold on each side, ob and os), plus the realized total as Redis'
-- string. Read at the call's first use (one HMGET) and written by finish(): a market maker
-- filled three times by one taker costs one read and one write, not three of each.
local function position(acct)
  if not POS then POS, POSL = {}, {} end
  local p = POS[acct]
  if p then return p end
  local key = AK(acct, 'pos')
  local h = redis.call('HMGET', key, 'qty', 'cost', 'ver', 'realized', 'ob', 'os')
  p = { key = key, acct = acct, q = tonumber(h[1] or '0'), c = tonumber(h[2] or '0'), v = tonumber(h[3] or '0'),
    realized = h[4] or '0', -- the int64 total may exceed 2^53
    ob = tonumber(h[5] or '0'), os = tonumber(h[6] or '0'), moved = false, opened = false,
    qty = h[1], cost = h[2], ver = h[3] } -- set as strings by applyPosition
  POS[acct] = p
  POSL[#POSL + 1] = p
  return p
end

-- Changes the lots an account's working orders hold on one side (the risk check's worst case):
-- in the position this call read, if it read it, else in Redis at once (a cancel reads none).
local function addOpen(acct, side, delta)
  local p = POS and POS[acct]
  if not p then
    redis.call('HINCRBY', AK(acct, 'pos'), openField(side), I(delta))
    return
  end
  if side == 'BUY' then p.ob = p.ob + delta else p.os = p.os + delta end
  p.opened = true
end

local function writePositions()
  if not POSL then return end
  for _, p in ipairs(POSL) do
    if p.moved and p.opened then
      redis.call('HSET', p.key, 'qty', p.qty, 'cost', p.cost, 'ver', p.ver, 'ob', I(p.ob), 'os', I(p.os))
    elseif p.moved then
      redis.call('HSET', p.key, 'qty', p.qty, 'cost', p.cost, 'ver', p.ver)
    elseif p.opened then
      redis.call('HSET', p.key, 'ob', I(p.ob), 'os', I(p.os))
    end
  end
end

-- Puts a working order at the back of its price level (o.seq is its place in time).
local function rest(o)
  local bs = bookSide(o.side)
  local rem = tonumber(o.qty) - tonumber(o.filled)
  -- Scores go as the strings they are: a Lua number argument costs a sprintf in redis.call.
  redis.call('ZADD', K('q:' .. bs .. ':' .. o.px), o.seq, o.id)
  redis.call('ZADD', K('px:' .. bs), o.px, o.px)
  redis.call('ZADD', AK(o.acct, 'open'), '0', o.lx)
  addOpen(o.acct, o.side, rem)
  levelQty(o.side, o.px, rem)
end

-- Takes a working order off the book, releasing its remaining quantity from the risk count.
-- True when that emptied its price level.
local function unrest(o)
  local bs = bookSide(o.side)
  local qk = K('q:' .. bs .. ':' .. o.px)
  local rem = tonumber(o.qty) - tonumber(o.filled)
  redis.call('ZREM', qk, o.id)
  redis.call('ZREM', AK(o.acct, 'open'), o.lx)
  if rem > 0 then
    addOpen(o.acct, o.side, -rem)
    levelQty(o.side, o.px, -rem)
  end
  if redis.call('ZCARD', qk) == 0 then
    redis.call('ZREM', K('px:' .. bs), o.px)
    redis.call('HDEL', K('lq:' .. bs), o.px)
    return true
  end
  return false
end

-- Applies dq signed lots at price px to an account's position, average-cost method. Closing
-- k of |q| lots releases floor(|cost| * k / |q|) of cost (computed without overflow as
-- a*k + floor(r*k/|q|) with |cost| = a*|q| + r); the rounding residue stays with the open
-- lots, so a fully closed position has released exactly its whole cost.
-- Changes p in place (and the realized total in Redis); finish() stores the rest.
local function applyPosition(p, dq, px)
  local q, c = p.q, p.c
  local realized = 0
  if q == 0 or (q > 0) == (dq > 0) then
    q = q + dq
    c = c + dq * px
  else
    local aq, ac, adq = math.abs(q), math.abs(c), math.abs(dq)
    local k = math.min(adq, aq)
    local a = idiv(ac, aq)
    local rel = a * k + idiv((ac - a * aq) * k, aq)
    if q > 0 then
      realized = px * k - rel
      c = c - rel
      q = q - k
    else
      realized = rel - px * k
      c = c + rel
      q = q + k
    end
    if adq > k then -- the fill flips the position: the rest opens at px
      local rest_ = adq - k
      if dq > 0 then q, c = rest_, rest_ * px else q, c = -rest_, -rest_ * px end
    end
  end
  p.q, p.c, p.v = q, c, p.v + 1
  p.qty, p.cost, p.ver = I(q), I(c), I(p.v)
  p.moved = true
  if realized ~= 0 then
    redis.call('HINCRBY', p.key, 'realized', I(realized))
    p.realized = redis.call('HGET', p.key, 'realized') -- read back as a string, exact
  end
end

local function findOrder(acct, oid, coid)
  if oid == '' then
    oid = redis.call('HGET', CK(acct, coid), 'oid')
    if not oid then return nil end
  end
  local o = loadOrder(K('o:' .. oid))
  if not o or o.acct ~= acct then return nil end
  return o
end

-- The caller's order that `verb` (a cancel or an amend) may change, or the refusal to return:
-- ARGV[2] is the order id ('' to use the client order id ARGV[3]). `limits`: load INST too
-- (a cancel checks none, so it only asks whether the book is listed).
local function workingOrder(acct, verb, limits)
  local field = (ARGV[2] == '') and 'client_order_id' or 'order_id'
  local known
  if limits then known = listed() else known = redis.call('EXISTS', KEYS[1]) == 1 end
  if not known then return nil, fail('ORDER_NOT_FOUND', { field = field }) end -- an id naming no listed book
  local o = findOrder(acct, ARGV[2], ARGV[3])
  if not o then return nil, fail('ORDER_NOT_FOUND', { field = field }) end
  if not isWorking(o) then
    return nil, fail('ORDER_NOT_WORKING', { field = field, order_id = o.id, status = o.status, action = verb })
  end
  return o
end

-- The price band around the last trade (or the reference price before the first trade),
-- and that centre.
local function band()
  local centre = tonumber(lastPrice() or INST.ref)
  local half = idiv(centre * tonumber(INST.bps), 10000)
  return centre - half, centre + half, centre
end

-- The refusal of a price outside the band [lo, hi] around `centre`.
local function outOfBand(field, px, lo, hi, centre)
  return fail('PRICE_OUT_OF_BAND', { field = field, price_ticks = I(px), band_low_ticks = I(lo),
    band_high_ticks = I(hi), reference_price_ticks = I(centre) })
end

-- The refusal of an order worth more than the notional limit (px: the price it is valued at).
local function overNotional(field, px, qty)
  return fail('NOTIONAL_LIMIT_EXCEEDED', { field = field, price_ticks = I(px), quantity_lots = I(qty),
    notional_ticks = I(px * qty), max_notional_ticks = INST.maxnot })
end

-- Would the account's worst-case position (position plus all working orders on one side)
-- stay within the limit if that side grows by `extra` lots? nil if so, else the refusal.
local function positionRefusal(acct, side, extra, field)
  -- A position this call already holds, else three fields read without caching: a resting
  -- order, the common case, then changes only `ob`/`os` (one HINCRBY in rest()).
  local q, ob, os
  local p = POS and POS[acct]
  if p then q, ob, os = p.q, p.ob, p.os
  else
    local h = redis.call('HMGET', AK(acct, 'pos'), 'qty', 'ob', 'os')
    q, ob, os = tonumber(h[1] or '0'), tonumber(h[2] or '0'), tonumber(h[3] or '0')
  end
  local lim = tonumber(INST.poslim)
  local worst, ok
  if side == 'BUY' then worst = q + ob + extra; ok = worst <= lim else worst = q - os - extra; ok = worst >= -lim end
  if ok then return nil end
  return fail('POSITION_LIMIT_EXCEEDED', { field = field, position_lots = I(q), worst_position_lots = I(worst),
    position_limit_lots = INST.poslim })
end

-- FOK pre-check: can `need` lots fill within `limit`, honouring self-trade prevention?
local function fillable(t, limit, need)
  local opp = oppSide(t.side)
  local levels
  if opp == 'S' then levels = redis.call('ZRANGEBYSCORE', K('px:S'), '-inf', I(limit))
  else levels = redis.call('ZREVRANGEBYSCORE', K('px:B'), '+inf', I(limit)) end
  local got = 0
  for _, lvl in ipairs(levels) do
    for _, id in ipairs(redis.call('ZRANGE', K('q:' .. opp .. ':' .. lvl), '0', '-1')) do
      local h = redis.call('HMGET', K('o:' .. id), 'acct', 'qty', 'filled')
      if h[1] == t.acct then
        if t.stp ~= 'CANCEL_OLDEST' then return got >= need end
      else
        got = got + tonumber(h[2]) - tonumber(h[3])
        if got >= need then return true end
      end
    end
  end
  return got >= need
end

-- The opposite side's price level match() is working through: its queue read CHUNK orders at
-- a time (one ZRANGE, not one per fill), and what match() took from it written when it
-- leaves the level: the orders taken off (filled, or canceled by self-trade prevention) in
-- one ZREM, the change of its resting lots in one HINCRBY, or the level itself when emptied.
local CHUNK, CHUNK_LAST = 16, '15'

local function openLevel(bs, px, pxs)
  local qk = K('q:' .. bs .. ':' .. pxs)
  return { bs = bs, px = px, pxs = pxs, qk = qk, ids = redis.call('ZRANGE', qk, '0', CHUNK_LAST), i = 1, taken = {}, dq = 0 }
end

local function dropTaken(L)
  if #L.taken > 0 then callOver('ZREM', L.qk, L.taken); L.taken = {} end
end

-- The level's next order in time priority; nil when it has none left.
local function headOf(L)
  if L.i > #L.ids then
    if #L.ids < CHUNK then return nil end
    dropTaken(L)
    L.ids, L.i = redis.call('ZRANGE', L.qk, '0', CHUNK_LAST), 1
  end
  return L.ids[L.i]
end

-- Takes the head order off the level; `lots` of it were resting.
local function takeHead(L, lots)
  L.taken[#L.taken + 1] = L.ids[L.i]
  L.i = L.i + 1
  L.dq = L.dq - lots
end

-- Writes what match() did to the level.
local function closeLevel(L)
  dropTaken(L)
  if L.i > #L.ids and (#L.ids < CHUNK or redis.call('EXISTS', L.qk) == 0) then
    redis.call('ZREM', K('px:' .. L.bs), L.pxs)
    redis.call('HDEL', K('lq:' .. L.bs), L.pxs)
  elseif L.dq ~= 0 then
    redis.call('HINCRBY', K('lq:' .. L.bs), L.pxs, I(L.dq))
  end
end

-- A maker match() took off the book leaves its account's `open` index in finish(), one ZREM
-- per account (the taker, which may rest afterwards, is never one of them).
local function leaveOpen(m)
  local key = AK(m.acct, 'open')
  if not GONE then GONE, GONEL = {}, {} end
  local list = GONE[key]
  if not list then list = {}; GONE[key] = list; GONEL[#GONEL + 1] = key end
  list[#list + 1] = m.lx
end

-- Matches taker t against the opposite side up to `limit`, price-time priority, each fill at
-- the resting order's price. Returns the fills and whether self-trade prevention stopped it.
local function match(t, limit)
  local fills = {}
  local opp = oppSide(t.side)
  local tq, tf = tonumber(t.qty), tonumber(t.filled)
  local last = nil -- the last fill's price (member string)
  local stopped = false
  local L -- the level being worked through
  while tf < tq do
    if not L then
      local px, pxs = bestLevel(opp)
      if not px or not crosses(t.side, px, limit) then break end
      L = openLevel(opp, px, pxs)
    end
    local mid = headOf(L)
    if not mid then
      closeLevel(L)
      L = nil
    else
      local m = loadOrder(K('o:' .. mid))
      local mrem = tonumber(m.qty) - tonumber(m.filled)
      if m.acct == t.acct then
        if t.stp == 'CANCEL_NEWEST' then stopped = true break end
        takeHead(L, mrem)
        leaveOpen(m)
        addOpen(m.acct, m.side, -mrem)
        bump(m, 'CANCELED', 'SELF_TRADE_PREVENTED')
        saveChange(m)
        orderEvent('canceled', m)
        if t.stp == 'CANCEL_BOTH' then stopped = true break end
      else
        local lvl, lvls = L.px, L.pxs
        local q = math.min(tq - tf, mrem)
        tf = tf + q
        t.filled = I(tf)
        t.notional = I(tonumber(t.notional) + q * lvl)
        -- Every fill is a change a client sees (the FILL message carries this state).
        bump(t, (tf == tq) and 'FILLED' or 'PARTIALLY_FILLED', '')
        m.filled = I(tonumber(m.filled) + q)
        m.notional = I(tonumber(m.notional) + q * lvl)
        local done = (q == mrem)
        if done then
          takeHead(L, q)
          leaveOpen(m)
          bump(m, 'FILLED', '')
        else
          L.dq = L.dq - q
          bump(m, 'PARTIALLY_FILLED', '')
        end
        saveChange(m)
        local dq = q
        if t.side == 'SELL' then dq = -q end
        -- Self-trade prevention keeps the taker out of every maker's account.
        local ptaker, pmaker = position(t.acct), position(m.acct)
        addOpen(m.acct, m.side, -q)
        applyPosition(ptaker, dq, lvl)
        applyPosition(pmaker, -dq, lvl)
        local fill = { id = SYM .. ':F' .. I(nextFillId()), px = lvls, qty = I(q), maker = m.id }
        local core = '"id":"' .. fill.id .. '","sym":"' .. SYM .. '","px":"' .. fill.px .. '","qty":"' .. fill.qty
          .. '","time":"' .. NOW .. '","maker":{"order":"' .. m.id .. '","coid":' .. js(m.coid) .. ',"acct":' .. js(m.acct)
          .. ',"side":"' .. m.side .. '"},"taker":{"order":"' .. t.id .. '","coid":' .. js(t.coid) .. ',"acct":' .. js(t.acct)
          .. ',"side":"' .. t.side .. '"}'
        -- The event carries positions and both orders' states; the caller's reply does not.
        fill.eid = emit('fill', '{' .. core .. ',"positions":[' .. positionJson(pmaker) .. ',' .. positionJson(ptaker)
          .. '],"orders":[' .. stateOf(m) .. ',' .. stateOf(t) .. ']}')
        fill.json = '{' .. core .. '}'
        -- The fill event carries the maker's new state, which the sync upserts from there
        -- (src/sync/batch-plan.ts): no order event repeats it.
        if done then finishedAt(fill.eid, m) end
        fills[#fills + 1] = fill
        last = lvls
      end
    end
  end
  if L then closeLevel(L) end
  if last then LAST = last end -- set with the fill ids: TRADED
  return fills, stopped
end

-- Ends a taker's matching: filled, stopped by self-trade prevention, expired, or resting.
-- match() already bumped the taker once per fill, so a filled or partly filled resting
-- taker's state is its last fill's, in that fill's event: no order event repeats it. Only a
-- further change (canceled, expired) takes a new version and an event.
local function settle(t, fills, stopped, canRest)
  if t.filled == t.qty then -- quantities are positive: a filled taker has a last fill
    finishedAt(fills[#fills].eid, t)
  elseif stopped then
    bump(t, 'CANCELED', 'SELF_TRADE_PREVENTED')
    orderEvent('canceled', t)
  elseif not canRest then
    bump(t, 'EXPIRED', 'NO_LIQUIDITY')
    orderEvent('expired', t)
  else
    rest(t)
  end
  saveOrder(t)
end

-- The reply: the order's state and its fills as the caller sees them.
local function result(o, fills)
  local fs = {}
  for i, f in ipairs(fills) do fs[i] = f.json end
  return '{"o":' .. stateOf(o) .. ',"f":[' .. table.concat(fs, ',') .. ']}'
end

-- The end of every function: writes what the call kept to write once (positions, the book's
-- state, the finished orders' `fin` entries, the makers' `open` index entries) and passes its
-- reply on.
local function finish(reply)
  writePositions()
  writeState()
  if FIN then callOver('ZADD', K('fin'), FIN) end
  if GONEL then for _, key in ipairs(GONEL) do callOver('ZREM', key, GONE[key]) end end
  return reply
end
