-- Money safety under faults.
--
-- An undo can run while a late attempt of the step it undoes is still on its way (an attempt that
-- timed out in Temporal's eyes and commits afterwards). Each context therefore remembers the
-- orders it has undone, and the forward step, serialised with the undo by a per-order advisory
-- lock, refuses to act for them: a reservation, a ticket or a rider assignment can never appear
-- after its release.

CREATE TABLE stock.released_orders (
    order_id    UUID PRIMARY KEY,
    released_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE shop_board.withdrawn_orders (
    order_id     UUID PRIMARY KEY,
    reason       TEXT NOT NULL,
    withdrawn_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE dispatch.released_orders (
    order_id    UUID PRIMARY KEY,
    released_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- POST /orders and the order's workflow agree on whether an order exists: the API writes
-- `placing` before it starts the workflow; the workflow's first status change claims it
-- (`started`); an API that could not learn whether its start went through gives it up
-- (`abandoned`) only while nothing claimed it, and answers 503. Exactly one of the two wins, so an
-- order id is handed out only for an order that runs, and a 503 only for one that never will.
-- The claiming run is remembered: a second run of the same order (a start repeated after the
-- first run's history was deleted) never goes on.
CREATE TABLE orders.placements (
    order_id   UUID PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('placing', 'started', 'abandoned')),
    run_id     TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Idempotency keys remember the answer they gave, so a replay is answered from what was stored
-- (never by starting anything), and expire (COURIER_IDEMPOTENCY_KEY_TTL_SECS, well inside the
-- Temporal namespace's retention).
ALTER TABLE orders.idempotency_keys
    ADD COLUMN response_status INT,
    ADD COLUMN response_body   JSONB;
CREATE INDEX idempotency_keys_by_age ON orders.idempotency_keys (created_at);

-- Reconciliation: each run of the reconciliation workflow, and what it found (and repaired).
CREATE TABLE operations.reconciliation_runs (
    run_id   BIGSERIAL PRIMARY KEY,
    at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    findings INT NOT NULL,
    repaired INT NOT NULL
);

CREATE TABLE operations.reconciliation_findings (
    run_id       BIGINT NOT NULL REFERENCES operations.reconciliation_runs (run_id) ON DELETE CASCADE,
    order_id     UUID NOT NULL,
    kind         TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    detail       TEXT NOT NULL,
    repaired     BOOLEAN NOT NULL,
    PRIMARY KEY (run_id, order_id, kind)
);
