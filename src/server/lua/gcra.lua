-- GCRA (generic cell rate algorithm) rate limit for one account, atomically, in Redis.
-- One key per account holds its "theoretical arrival time" (TAT) in microseconds: the
-- moment at which the account would be back to a full burst. Every gateway process on
-- every host runs this same script against the same key, so the limit is cluster-wide.
--
-- KEYS[1]  rl:{<account id>}   (hash tag: one slot per account on Redis Cluster)
-- ARGV[1]  emission interval T in microseconds (1e6 / rate)
-- ARGV[2]  burst B (calls an idle account may send at once)
-- Returns  { allowed (1|0), retry_after_us }
--
-- The clock is Redis's own (TIME), never the callers', so hosts with skewed clocks agree.
local key = KEYS[1]
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local tat = tonumber(redis.call('GET', key) or '0')
if tat < now then tat = now end

local new_tat = tat + interval
local limit = burst * interval
local over = new_tat - now - limit
if over > 0 then
  -- Refused calls do not move the TAT: a client hammering while limited is not punished
  -- further, and its retry delay is exact.
  return { 0, over }
end

-- The key is worthless once the account is back to a full burst: let it expire then.
redis.call('SET', key, string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return { 1, 0 }
