-- Notifications leave through an outbox: a status change logs its messages in the same transaction
-- as the read model's update, and the worker's dispatcher sends the rows that are due, with their
-- own backoff and give-up time. Rows logged before (sent by a notification workflow) have no
-- next_attempt_at and are not the outbox's.

ALTER TABLE notifications.messages
    ADD COLUMN next_attempt_at  TIMESTAMPTZ,
    ADD COLUMN lease_until      TIMESTAMPTZ,
    ADD COLUMN retry_initial_ms BIGINT,
    ADD COLUMN retry_max_ms     BIGINT,
    ADD COLUMN give_up_at       TIMESTAMPTZ;

CREATE INDEX messages_due ON notifications.messages (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
