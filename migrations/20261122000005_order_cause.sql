-- Why an order ended early, as data (`{"code": "out_of_stock", "menu_item_id": ...}`): clients
-- and the API branch on it instead of reading the `reason` sentence.
ALTER TABLE orders.orders ADD COLUMN cause JSONB;
