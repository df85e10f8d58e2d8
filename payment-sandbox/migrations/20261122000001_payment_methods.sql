-- Cards the provider tokenized: the merchant (Courier) keeps only the `pm_...` id and charges it;
-- the card number stays here, with the provider.
CREATE TABLE payment_methods (
    id          TEXT PRIMARY KEY,
    card_number TEXT NOT NULL,
    card_last4  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
