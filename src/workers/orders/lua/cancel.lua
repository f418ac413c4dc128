-- cancel: ARGV = acct, order id ('' to use the client order id), client order id.
local acct = ARGV[1]
if not INST then return fail('ORDER_NOT_FOUND', 'no such order') end -- an id naming no listed book
local o = findOrder(acct, ARGV[2], ARGV[3])
if not o then return fail('ORDER_NOT_FOUND', 'no such order') end
if not isWorking(o) then
  return fail('ORDER_NOT_WORKING', 'order ' .. o.id .. ' is ' .. o.status .. ' and can no longer be canceled')
end
unrest(o)
bump(o, 'CANCELED', 'CANCELED_BY_OWNER')
saveOrder(o)
orderEvent('canceled', o)
return result(o, {})
