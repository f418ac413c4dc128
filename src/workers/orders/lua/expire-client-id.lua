-- Sets when an account's client order id reservation ends, but only if it still holds this
-- order's content (a later order may have taken the id after an earlier expiry), and marks
-- the account as having ids that only Postgres still knows.
-- KEYS = "{ac:<account>}:coid:<client order id>", "{ac:<account>}:coid-expired";
-- ARGV = the fingerprint, the end (epoch ms).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], '1')
return redis.call('PEXPIREAT', KEYS[1], ARGV[2])
