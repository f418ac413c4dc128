-- GCRA (generic cell rate algorithm) rate limit for one account, atomically, in Redis.
-- One key per account holds its "theoretical arrival time" (TAT) in microseconds: the
-- moment at which the account would be back to a full burst. Every gateway process on
-- every host runs this same script against the same key, so the limit is cluster-wide.
-- A gateway takes a lease of up to N calls at once and spends it locally
-- (src/server/rate-limiter.ts): the calls are charged here when leased, so the limit holds.
--
-- KEYS[1]  rl:{<account id>}   (hash tag: one slot per account on Redis Cluster)
-- ARGV[1]  emission interval T in microseconds (1e6 / rate)
-- ARGV[2]  burst B (calls an idle account may send at once)
-- ARGV[3]  N, the most calls to lease (1 when absent)
-- Returns  { calls granted (0..N), retry_after_us when none }
--
-- The clock is Redis's own (TIME), never the callers', so hosts with skewed clocks agree.
local key = KEYS[1]
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3] or '1')

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local tat = tonumber(redis.call('GET', key) or '0')
if tat < now then tat = now end

local limit = burst * interval
-- How many cells fit before the TAT would pass now + limit.
local room = math.floor((now + limit - tat) / interval)
local granted = math.min(want, room)
if granted < 1 then
  -- Refused calls do not move the TAT: a client hammering while limited is not punished
  -- further, and its retry delay is exact.
  return { 0, tat + interval - now - limit }
end

local new_tat = tat + granted * interval
-- The key is worthless once the account is back to a full burst: let it expire then.
redis.call('SET', key, string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return { granted, 0 }
