-- Accounts and their API keys. Only a SHA-256 of each key is stored; the key itself is shown
-- once, when it is created, and never logged.
CREATE TABLE accounts (
  account_id   text PRIMARY KEY,
  name         text NOT NULL,
  tier         text NOT NULL CHECK (tier IN ('LITE', 'PRO', 'ELITE', 'BLACK')),
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  key_hash     text PRIMARY KEY,          -- hex SHA-256 of the key
  account_id   text NOT NULL REFERENCES accounts (account_id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz
);
CREATE INDEX api_keys_account ON api_keys (account_id);
