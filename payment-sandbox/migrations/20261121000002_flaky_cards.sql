-- How often each idempotency key was tried with the flaky test card, so it can fail a few times
-- and then succeed, as a provider having a bad minute does.
CREATE TABLE flaky_attempts (
    key      TEXT PRIMARY KEY,
    attempts INT NOT NULL
);
