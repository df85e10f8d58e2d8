-- Cancellation and compensation: the shop is told when an order it was handed is off, the read
-- model shows a compensation step waiting for an operator, and POST /orders honours
-- Idempotency-Key headers.

ALTER TABLE shop_board.tickets
    ADD COLUMN withdrawn_at    TIMESTAMPTZ,
    ADD COLUMN withdraw_reason TEXT;

ALTER TABLE orders.orders ADD COLUMN attention JSONB;

-- A client's idempotency key, the hash of the request it came with, and the order it created.
CREATE TABLE orders.idempotency_keys (
    key          TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    order_id     UUID NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
