-- Releases an account's client order id reservation, but only if it still holds this
-- order's content: a refused order must not burn the id, and a concurrent owner keeps it.
-- KEYS[1] = "{ac:<account>}:coid:<client order id>", ARGV[1] = the reservation value.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
