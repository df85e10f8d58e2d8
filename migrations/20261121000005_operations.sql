-- Operating Courier: every operator action is audited (who, what, when, why, and how it went), and
-- the read model records when each view was written, to measure its lag behind the workflows.

CREATE SCHEMA IF NOT EXISTS operations;

CREATE TABLE operations.audit (
    audit_id  BIGSERIAL PRIMARY KEY,
    operator  TEXT NOT NULL,
    action    TEXT NOT NULL,
    order_id  UUID,
    reason    TEXT NOT NULL,
    outcome   TEXT NOT NULL DEFAULT 'started',
    detail    JSONB,
    at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_by_order ON operations.audit (order_id, at);

ALTER TABLE orders.orders ADD COLUMN projected_at TIMESTAMPTZ NOT NULL DEFAULT now();
