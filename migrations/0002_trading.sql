-- The durable copy of the books' events (written by the sync thread, src/sync/).
-- Integers only: prices in ticks, quantities in lots, cost and PnL in ticks*lots (numeric, so
-- a sum over many fills can never overflow). Redis is the hot truth; these tables are what a
-- rebuild restores Redis from and what analytics queries read.

-- Event times arrive as epoch milliseconds; adding an interval keeps them exact (to_timestamp
-- goes through a double).
CREATE FUNCTION tierbook_ms(ms bigint) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN timestamptz 'epoch' + ms * interval '1 millisecond';

-- One row per tradable symbol. `spec` keeps the instrument's declaration (tick, lot, ...) as
-- config/instruments.json states it; the sync thread adds a bare row for every symbol it sees.
CREATE TABLE instruments (
  symbol      text PRIMARY KEY,
  spec        jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- The latest state of every order. The partition key (created_at) never changes for an
-- order, so (order_id, created_at) identifies it across partitions.
CREATE TABLE orders (
  order_id         text NOT NULL,
  client_order_id  text NOT NULL,
  account_id       text NOT NULL,
  symbol           text NOT NULL,
  side             text NOT NULL,
  order_type       text NOT NULL,
  tif              text NOT NULL,
  price            bigint NOT NULL,        -- ticks; 0 for market orders
  quantity         bigint NOT NULL,        -- lots ordered
  filled           bigint NOT NULL,        -- lots filled
  notional         numeric NOT NULL,       -- sum of fill price * lots
  status           text NOT NULL,
  reason           text NOT NULL,
  post_only        boolean NOT NULL,
  stp              text NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  ver              bigint NOT NULL,        -- guards upserts: an older state never wins
  seq              bigint NOT NULL,        -- place in the book's queue (time priority)
  -- The order as placed (amends change price and quantity): a rebuild needs it to restore the
  -- client order id's fingerprint. Taken from the lowest version seen (placed_ver 1 = exact).
  placed_price     bigint NOT NULL,
  placed_qty       bigint NOT NULL,
  placed_ver       bigint NOT NULL,
  PRIMARY KEY (order_id, created_at)
) PARTITION BY RANGE (created_at);

-- Order history of an account, newest first. (Client order id lookups are served by Redis,
-- which a rebuild restores; an index for them would cost every order write.)
CREATE INDEX orders_account_time ON orders (account_id, created_at DESC);
-- Open orders per book, in time priority: what a rebuild reloads.
CREATE INDEX orders_open_book ON orders (symbol, seq)
  WHERE status IN ('NEW', 'PARTIALLY_FILLED');

-- Every execution, once (insert-or-ignore by fill id; its time never changes).
CREATE TABLE fills (
  fill_id           text NOT NULL,
  symbol            text NOT NULL,
  price             bigint NOT NULL,       -- ticks (the maker's price)
  quantity          bigint NOT NULL,       -- lots
  executed_at       timestamptz NOT NULL,
  maker_order_id    text NOT NULL,
  maker_coid        text NOT NULL,
  maker_account_id  text NOT NULL,
  maker_side        text NOT NULL,
  taker_order_id    text NOT NULL,
  taker_coid        text NOT NULL,
  taker_account_id  text NOT NULL,
  taker_side        text NOT NULL,
  PRIMARY KEY (fill_id, executed_at)
) PARTITION BY RANGE (executed_at);

-- Analytics pages an account's fills by time (on either side of the trade) and builds
-- candles per symbol by time.
CREATE INDEX fills_maker_time ON fills (maker_account_id, executed_at DESC);
CREATE INDEX fills_taker_time ON fills (taker_account_id, executed_at DESC);
CREATE INDEX fills_symbol_time ON fills (symbol, executed_at);

-- Each account's position per symbol. The primary key covers the columns a portfolio read
-- needs, so that read is an index-only scan. Average price = cost_basis / quantity.
CREATE TABLE positions (
  account_id    text NOT NULL,
  symbol        text NOT NULL,
  quantity      bigint NOT NULL,           -- signed lots
  cost_basis    numeric NOT NULL,          -- signed ticks*lots of the open quantity
  realized_pnl  numeric NOT NULL,          -- ticks*lots
  ver           bigint NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, symbol) INCLUDE (quantity, cost_basis, realized_pnl)
);
CREATE INDEX positions_symbol ON positions (symbol);

-- Creates the monthly partitions (UTC months) of orders and fills from `first` for `months` months, plus a
-- default partition so an event with an unexpected time is stored instead of failing.
-- A month whose rows already sit in the default partition is skipped with a notice (Postgres
-- would refuse it); such rows stay queryable through the parent.
CREATE FUNCTION tierbook_ensure_partitions(first date, months int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  parent text;
  m date;
  created int := 0;
  part text;
BEGIN
  FOREACH parent IN ARRAY ARRAY['orders', 'fills'] LOOP
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I DEFAULT', parent || '_default', parent);
    FOR i IN 0 .. months - 1 LOOP
      m := (date_trunc('month', first) + make_interval(months => i))::date;
      part := format('%s_y%sm%s', parent, to_char(m, 'YYYY'), to_char(m, 'MM'));
      IF to_regclass(part) IS NULL THEN
        BEGIN
          EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                         part, parent, m::timestamp AT TIME ZONE 'UTC',
                         (m + interval '1 month')::timestamp AT TIME ZONE 'UTC');
          created := created + 1;
        EXCEPTION WHEN check_violation OR invalid_object_definition THEN
          RAISE NOTICE 'partition % skipped: %', part, SQLERRM;
        END;
      END IF;
    END LOOP;
  END LOOP;
  RETURN created;
END $$;

-- The previous month too: events still in flight around a month boundary.
SELECT tierbook_ensure_partitions((date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date, 5);
