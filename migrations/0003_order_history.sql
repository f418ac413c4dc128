-- Orders leave Redis after their retention window (docs/retention.md), so Postgres now answers
-- GetOrder, ListOrders and client order id lookups for them. An account's orders by client
-- order id, newest first (ids are optional, so orders without one are left out of the index).
CREATE INDEX orders_account_coid ON orders (account_id, client_order_id, created_at DESC)
  WHERE client_order_id <> '';
