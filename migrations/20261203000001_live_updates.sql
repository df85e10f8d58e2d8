-- Live updates for the web front end: every change of an order's read-model row, and of the state
-- of a message in its notification log, is announced on the `courier_orders` channel (Postgres
-- LISTEN/NOTIFY). The API listens once per process and fans the announcements out to its
-- server-sent-event streams (api/src/live.rs), which read the read model again: an announcement
-- says only whom the change concerns, never the data.
CREATE FUNCTION orders.announce(order_id UUID, customer_id TEXT, shop_id TEXT, rider_id TEXT)
RETURNS void LANGUAGE sql AS $$
  SELECT pg_notify('courier_orders', json_build_object(
    'order_id', order_id, 'customer_id', customer_id, 'shop_id', shop_id,
    'rider_id', rider_id)::text)
$$;

CREATE FUNCTION orders.announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM orders.announce(OLD.order_id, OLD.customer_id, OLD.shop_id, OLD.rider->>'rider_id');
    RETURN NULL;
  END IF;
  PERFORM orders.announce(NEW.order_id, NEW.customer_id, NEW.shop_id, NEW.rider->>'rider_id');
  -- The rider the order let go sees it leave their list.
  IF TG_OP = 'UPDATE' AND OLD.rider IS NOT NULL
     AND OLD.rider->>'rider_id' IS DISTINCT FROM NEW.rider->>'rider_id' THEN
    PERFORM orders.announce(OLD.order_id, OLD.customer_id, OLD.shop_id, OLD.rider->>'rider_id');
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER announce_order_change AFTER INSERT OR UPDATE OR DELETE ON orders.orders
  FOR EACH ROW EXECUTE FUNCTION orders.announce_change();

-- A message was logged or changed state (pending, sending, sent, failed): the order's own stream.
CREATE FUNCTION notifications.announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM orders.announce(NEW.order_id, NULL, NULL, NULL);
  RETURN NULL;
END $$;

CREATE TRIGGER announce_message_logged AFTER INSERT ON notifications.messages
  FOR EACH ROW EXECUTE FUNCTION notifications.announce_change();
CREATE TRIGGER announce_message_state AFTER UPDATE ON notifications.messages
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION notifications.announce_change();

-- A rider's deliveries (GET /riders/{rider_id}/deliveries).
CREATE INDEX orders_by_rider ON orders.orders ((rider->>'rider_id'), created_at DESC)
  WHERE rider IS NOT NULL;
