-- Rollups, so that no analytics call costs more as history grows (DESIGN invariant 9):
-- candles per symbol and interval, and each account's fills with what each one realized,
-- summed per minute, hour and day. Both are written in the transaction that writes the fills
-- (src/sync/pg-writer.ts), and both are idempotent: a redelivered or reordered batch changes
-- nothing twice. Existing fills are rolled up at the end of this file. docs/analytics.md
-- ("Rollups") explains the reads.

-- The fill sequence n of an engine fill id `SYMBOL:F<n>` (the book's matching order), or NULL
-- for an id of another shape (never made by the engine; such fills are left out of candles).
CREATE FUNCTION tierbook_fill_seq(fill_id text, symbol text) RETURNS bigint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE WHEN left(fill_id, length(symbol) + 2) = symbol || ':F'
                AND substr(fill_id, length(symbol) + 3) ~ '^[0-9]{1,18}$'
              THEN substr(fill_id, length(symbol) + 3)::bigint END;

-- Epoch milliseconds of a timestamptz, exactly (extract gives numeric). STABLE like its body
-- (extract from a timestamptz is STABLE), so Postgres inlines it: an IMMUTABLE SQL function
-- around a STABLE body is run as a separate statement per call, several times slower.
CREATE FUNCTION tierbook_epoch_ms(t timestamptz) RETURNS bigint
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN floor(extract(epoch FROM t) * 1000)::bigint;

-- One candle per symbol, interval width and epoch-aligned bucket. Open and close are the
-- prices of the lowest and highest fill sequence seen (kept with them), so fills may arrive
-- in any order and the upsert still picks the right ones; the rest are sums, max and min.
CREATE TABLE candle_rollups (
  symbol     text NOT NULL,
  width_ms   bigint NOT NULL,          -- 60000, 300000, 3600000, 86400000 (the API's intervals)
  bucket_ms  bigint NOT NULL,          -- epoch ms of the bucket start (UTC days for 1d)
  open_seq   bigint NOT NULL,
  open       bigint NOT NULL,          -- ticks
  high       bigint NOT NULL,
  low        bigint NOT NULL,
  close_seq  bigint NOT NULL,
  close      bigint NOT NULL,
  volume     numeric NOT NULL,         -- lots
  notional   numeric NOT NULL,         -- ticks*lots
  trades     bigint NOT NULL,
  PRIMARY KEY (symbol, width_ms, bucket_ms)
) WITH (fillfactor = 50); -- the newest candles change with every batch: room for HOT updates

-- The upsert that folds the fills of relation `src` (the fills table, or a trigger's
-- transition table) into candle_rollups: one text for both, so the backfill below and the
-- live trigger cannot drift apart. Fills are first folded per symbol and minute (the per-row
-- work happens once; date_trunc keeps it off numeric arithmetic), the minutes then into every interval; open and close are the price of
-- the least and greatest (seq, price) pair, which needs no sort. Rows are upserted in key
-- order: concurrent writers take the row locks in one order and cannot deadlock.
CREATE FUNCTION tierbook_candle_upsert_sql(src text) RETURNS text
LANGUAGE sql IMMUTABLE RETURN format($q$
  WITH m AS (
    SELECT symbol, tierbook_epoch_ms(m AT TIME ZONE 'UTC') AS b, o, h, l, c, v, n, t FROM (
      SELECT symbol, date_trunc('minute', executed_at AT TIME ZONE 'UTC') AS m, min(ARRAY[seq, price]) AS o, max(price) AS h, min(price) AS l,
        max(ARRAY[seq, price]) AS c, sum(quantity) AS v, sum(price::numeric * quantity) AS n, count(*) AS t
      FROM (SELECT symbol, price, quantity, executed_at, tierbook_fill_seq(fill_id, symbol) AS seq FROM %I) f
      WHERE seq IS NOT NULL
      GROUP BY 1, 2) x
  )
  INSERT INTO candle_rollups AS c (symbol, width_ms, bucket_ms, open_seq, open, high, low, close_seq, close, volume, notional, trades)
  SELECT symbol, w, b - b %% w, (min(o))[1], (min(o))[2], max(h), min(l), (max(c))[1], (max(c))[2], sum(v), sum(n), sum(t)
  FROM m CROSS JOIN unnest('{60000,300000,3600000,86400000}'::bigint[]) AS w
  GROUP BY symbol, w, b - b %% w
  ORDER BY symbol, w, b - b %% w
  ON CONFLICT (symbol, width_ms, bucket_ms) DO UPDATE SET
    open = CASE WHEN EXCLUDED.open_seq < c.open_seq THEN EXCLUDED.open ELSE c.open END,
    open_seq = LEAST(c.open_seq, EXCLUDED.open_seq),
    high = GREATEST(c.high, EXCLUDED.high),
    low = LEAST(c.low, EXCLUDED.low),
    close = CASE WHEN EXCLUDED.close_seq > c.close_seq THEN EXCLUDED.close ELSE c.close END,
    close_seq = GREATEST(c.close_seq, EXCLUDED.close_seq),
    volume = c.volume + EXCLUDED.volume,
    notional = c.notional + EXCLUDED.notional,
    trades = c.trades + EXCLUDED.trades$q$, src);

-- Every statement that inserts fills rolls exactly the rows it inserted into the candles: the
-- transition table holds inserted rows only, so `ON CONFLICT DO NOTHING` on a redelivered fill
-- adds nothing. A trigger (not a statement in the writer) so that every path into `fills`
-- keeps the candles right, whatever wrote the rows.
CREATE FUNCTION tierbook_roll_candles() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE tierbook_candle_upsert_sql('new_fills');
  RETURN NULL;
END $$;

CREATE TRIGGER fills_roll_candles AFTER INSERT ON fills
  REFERENCING NEW TABLE AS new_fills
  FOR EACH STATEMENT EXECUTE FUNCTION tierbook_roll_candles();

-- Each account's side of each fill, keyed by the position version the fill produced (the
-- engine bumps a position's `ver` by one per fill, src/workers/orders/lua/common.lua), with
-- the position's cumulative realized PnL after it. What one fill realized is the difference
-- to the row before (pos_ver - 1); until that row is here (batches committed out of order)
-- `realized` is NULL and the writer fills it in when the earlier row arrives.
CREATE TABLE account_fills (
  account_id      text NOT NULL,
  symbol          text NOT NULL,
  pos_ver         bigint NOT NULL,
  fill_id         text NOT NULL,
  executed_at     timestamptz NOT NULL,
  lots            bigint NOT NULL,       -- signed: + bought, - sold
  price           bigint NOT NULL,       -- ticks
  realized_after  numeric NOT NULL,      -- the position's realized PnL after this fill
  realized        numeric,               -- what this fill realized; NULL while unknown
  closing         boolean NOT NULL,      -- it closed (part of) a position: counts for win rate
  PRIMARY KEY (account_id, symbol, pos_ver)
);
-- The sub-minute edge of a stats window.
CREATE INDEX account_fills_time ON account_fills (account_id, executed_at);

-- Sums of account_fills per account and minute, hour and UTC day. A stats window is its
-- first partial minute from account_fills plus whole minutes, hours and days from here.
CREATE TABLE account_rollups (
  account_id  text NOT NULL,
  width_ms    bigint NOT NULL,           -- 60000, 3600000, 86400000
  bucket_ms   bigint NOT NULL,
  volume      numeric NOT NULL,          -- lots
  notional    numeric NOT NULL,          -- ticks*lots
  fills       bigint NOT NULL,
  realized    numeric NOT NULL,          -- of the fills whose `realized` is known
  closing     bigint NOT NULL,
  wins        bigint NOT NULL,           -- closing fills that realized more than 0
  PRIMARY KEY (account_id, width_ms, bucket_ms)
) WITH (fillfactor = 50); -- an active account's newest rows change with every batch

-- Backfill: the candles of every fill already stored.
DO $$ BEGIN EXECUTE tierbook_candle_upsert_sql('fills'); END $$;

-- Backfill: replay each account's fills per symbol in book order through the engine's
-- average-cost model (applyPosition in common.lua: closing k of |q| lots releases
-- floor(|cost| * k / |q|), the residue stays with the open lots) to recover what each fill
-- realized. Versions are numbered so that the last fill of a position gets the position's
-- stored `ver`: the next live fill (ver + 1) then finds its predecessor.
DO $$
DECLARE
  r record;
  cur text := NULL;
  q numeric; c numeric; total numeric;
  aq numeric; ac numeric; adq numeric; k numeric; a numeric; rel numeric; gain numeric;
  dq numeric; closes boolean;
BEGIN
  FOR r IN
    SELECT s.acct, s.symbol, s.fill_id, s.executed_at, s.price, s.quantity, s.side,
      COALESCE(p.ver, count(*) OVER w) - count(*) OVER w + row_number() OVER (w ORDER BY s.seq) AS ver
    FROM (
      SELECT maker_account_id AS acct, symbol, fill_id, executed_at, price, quantity, maker_side AS side,
        COALESCE(tierbook_fill_seq(fill_id, symbol), 0) AS seq FROM fills
      UNION ALL
      SELECT taker_account_id, symbol, fill_id, executed_at, price, quantity, taker_side,
        COALESCE(tierbook_fill_seq(fill_id, symbol), 0) FROM fills
    ) s
    LEFT JOIN positions p ON p.account_id = s.acct AND p.symbol = s.symbol
    WINDOW w AS (PARTITION BY s.acct, s.symbol)
    ORDER BY s.acct, s.symbol, s.seq
  LOOP
    IF cur IS DISTINCT FROM r.acct || E'\x01' || r.symbol THEN
      cur := r.acct || E'\x01' || r.symbol;
      q := 0; c := 0; total := 0;
    END IF;
    dq := CASE WHEN r.side = 'BUY' THEN r.quantity ELSE -r.quantity END;
    gain := 0;
    closes := NOT (q = 0 OR (q > 0) = (dq > 0));
    IF NOT closes THEN
      q := q + dq;
      c := c + dq * r.price;
    ELSE
      aq := abs(q); ac := abs(c); adq := abs(dq);
      k := LEAST(adq, aq);
      a := div(ac, aq);
      rel := a * k + div((ac - a * aq) * k, aq);
      IF q > 0 THEN
        gain := r.price * k - rel; c := c - rel; q := q - k;
      ELSE
        gain := rel - r.price * k; c := c + rel; q := q + k;
      END IF;
      IF adq > k THEN -- the fill flips the position: the rest opens at the fill's price
        q := CASE WHEN dq > 0 THEN adq - k ELSE k - adq END;
        c := q * r.price;
      END IF;
    END IF;
    total := total + gain;
    INSERT INTO account_fills VALUES (r.acct, r.symbol, r.ver, r.fill_id, r.executed_at, dq, r.price, total, gain, closes)
      ON CONFLICT DO NOTHING;
  END LOOP;
END $$;

INSERT INTO account_rollups (account_id, width_ms, bucket_ms, volume, notional, fills, realized, closing, wins)
SELECT account_id, w, ms - ms % w, sum(abs(lots)), sum(price::numeric * abs(lots)), count(*),
  COALESCE(sum(realized), 0), count(*) FILTER (WHERE closing), count(*) FILTER (WHERE closing AND realized > 0)
FROM (SELECT *, tierbook_epoch_ms(executed_at) AS ms FROM account_fills) f
CROSS JOIN unnest('{60000,3600000,86400000}'::bigint[]) AS w
GROUP BY account_id, w, ms - ms % w;
