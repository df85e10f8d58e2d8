-- Each bounded context owns a schema; only its own activities (or the API, for reads) touch it.

CREATE SCHEMA IF NOT EXISTS catalog;       -- shops and their menus (seeded, read by the API)
CREATE SCHEMA IF NOT EXISTS stock;         -- stock levels and per-order reservations
CREATE SCHEMA IF NOT EXISTS shop_board;    -- orders handed to shops
CREATE SCHEMA IF NOT EXISTS dispatch;      -- riders, assignments, delivery-fee payouts
CREATE SCHEMA IF NOT EXISTS notifications; -- the log of messages to customers
CREATE SCHEMA IF NOT EXISTS orders;        -- the read model the status API reads

CREATE TABLE catalog.shops (
    shop_id     TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    address     TEXT NOT NULL,
    phone       TEXT NOT NULL
);

CREATE TABLE catalog.menu_items (
    menu_item_id TEXT PRIMARY KEY,
    shop_id      TEXT NOT NULL REFERENCES catalog.shops (shop_id),
    name         TEXT NOT NULL,
    price_minor  BIGINT NOT NULL CHECK (price_minor > 0),
    currency     TEXT NOT NULL CHECK (currency = 'KRW'),
    position     INT NOT NULL DEFAULT 0
);
CREATE INDEX menu_items_by_shop ON catalog.menu_items (shop_id, position);

CREATE TABLE stock.levels (
    menu_item_id TEXT PRIMARY KEY REFERENCES catalog.menu_items (menu_item_id),
    on_hand      BIGINT NOT NULL CHECK (on_hand >= 0),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per (order, item) while reserved; `released_at` marks stock given back, so a retried
-- release (or reserve) is a no-op.
CREATE TABLE stock.reservations (
    order_id     UUID NOT NULL,
    menu_item_id TEXT NOT NULL REFERENCES catalog.menu_items (menu_item_id),
    quantity     BIGINT NOT NULL CHECK (quantity > 0),
    reserved_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    released_at  TIMESTAMPTZ,
    PRIMARY KEY (order_id, menu_item_id)
);

-- An order the shop has been handed. One per order, whatever the retries.
CREATE TABLE shop_board.tickets (
    order_id         UUID PRIMARY KEY,
    shop_id          TEXT NOT NULL REFERENCES catalog.shops (shop_id),
    lines            JSONB NOT NULL,
    total_minor      BIGINT NOT NULL,
    delivery_address TEXT NOT NULL,
    posted_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX tickets_by_shop ON shop_board.tickets (shop_id, posted_at DESC);

CREATE TABLE dispatch.riders (
    rider_id   TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    phone      TEXT NOT NULL,
    available  BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE dispatch.assignments (
    order_id        UUID PRIMARY KEY,
    rider_id        TEXT NOT NULL REFERENCES dispatch.riders (rider_id),
    assigned_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    fee_minor       BIGINT,
    fee_payout_id   TEXT,
    released_at     TIMESTAMPTZ
);

CREATE TABLE notifications.messages (
    order_id     UUID NOT NULL,
    status       TEXT NOT NULL,
    channel      TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    recipient    TEXT NOT NULL,
    subject      TEXT,
    body         TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending',
    attempts     INT NOT NULL DEFAULT 0,
    provider_id  TEXT,
    last_error   TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at      TIMESTAMPTZ,
    PRIMARY KEY (order_id, status, channel)
);

CREATE TABLE orders.orders (
    order_id         UUID PRIMARY KEY,
    customer_id      TEXT NOT NULL,
    shop_id          TEXT NOT NULL,
    status           TEXT NOT NULL,
    items            JSONB NOT NULL,
    total_minor      BIGINT NOT NULL,
    currency         TEXT NOT NULL,
    delivery_address TEXT NOT NULL,
    rider            JSONB,
    reason           TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    seq              BIGINT NOT NULL
);
CREATE INDEX orders_by_customer ON orders.orders (customer_id, created_at DESC, order_id DESC);
CREATE INDEX orders_by_shop ON orders.orders (shop_id, status, created_at DESC);

CREATE TABLE orders.timeline (
    order_id UUID NOT NULL REFERENCES orders.orders (order_id) ON DELETE CASCADE,
    seq      BIGINT NOT NULL,
    status   TEXT NOT NULL,
    at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (order_id, seq)
);
