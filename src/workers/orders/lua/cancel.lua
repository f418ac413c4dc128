-- cancel: ARGV = acct, order id ('' to use the client order id), client order id, [traceparent].
local acct = ARGV[1]
TP = ARGV[4] or ''
local o, refused = workingOrder(acct, 'canceled')
if not o then return refused end
unrest(o)
bump(o, 'CANCELED', 'CANCELED_BY_OWNER')
saveChange(o)
orderEvent('canceled', o)
return result(o, {})
