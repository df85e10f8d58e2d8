-- Notifications are sent for real: to the customer and, for new and withdrawn orders, to the shop;
-- in the customer's language; as SMS (Twilio) and email (SMTP, plain text and HTML). The table is
-- the log: one row per (order, status, audience, channel), whatever the retries.

ALTER TABLE catalog.shops ADD COLUMN email TEXT NOT NULL DEFAULT '';
UPDATE catalog.shops SET email = CASE shop_id
    WHEN 'seoul-bloom' THEN 'orders@seoulbloom.example'
    WHEN 'napoli-oven' THEN 'orders@napolioven.example'
    WHEN 'halmeoni-table' THEN 'orders@halmeonitable.example'
    ELSE email END;

ALTER TABLE notifications.messages
    ADD COLUMN audience TEXT NOT NULL DEFAULT 'customer' CHECK (audience IN ('customer', 'shop')),
    ADD COLUMN html TEXT,
    ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
ALTER TABLE notifications.messages DROP CONSTRAINT messages_pkey;
ALTER TABLE notifications.messages ADD PRIMARY KEY (order_id, status, audience, channel);
ALTER TABLE notifications.messages
    ADD CONSTRAINT messages_state CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'skipped'));
