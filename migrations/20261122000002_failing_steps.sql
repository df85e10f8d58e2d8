-- Steps that keep failing, as the worker sees them: an activity attempt that fails from its third
-- attempt on, or a workflow task that fails (a panic, non-determinism after a deploy). A later
-- success removes the row. The stuck scan reads this table instead of describing every running
-- workflow, so it stays fast however many orders are open.

CREATE TABLE operations.failing_steps (
    workflow_id     TEXT NOT NULL,
    order_id        UUID,
    step            TEXT NOT NULL,
    attempts        INT NOT NULL,
    last_error      TEXT NOT NULL,
    first_failed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_failed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, step)
);

-- The stuck scan's look at orders not progressing: non-final orders by age.
CREATE INDEX orders_open_by_age ON orders.orders (updated_at)
    WHERE status NOT IN ('DELIVERED', 'REJECTED', 'CANCELLED', 'PAYMENT_DECLINED', 'OUT_OF_STOCK', 'PAYMENT_FAILED');
