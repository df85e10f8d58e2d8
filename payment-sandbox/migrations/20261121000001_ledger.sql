-- The sandbox provider's own books: what it charged, refunded and paid out, and the answers it
-- gave to each idempotency key.

CREATE TABLE ledger (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('charge', 'refund', 'payout')),
    status          TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    reference       TEXT,
    card_last4      TEXT,
    destination     TEXT,
    charge_id       TEXT REFERENCES ledger (id),
    failure_code    TEXT,
    failure_message TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ledger_by_reference ON ledger (reference, created_at);

CREATE TABLE idempotency_keys (
    key             TEXT PRIMARY KEY,
    request_hash    TEXT NOT NULL,
    response_status INT NOT NULL,
    response_body   JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
