-- A shop's board lists the orders the shop holds a ticket for, and the ticket is posted after the
-- order's read-model row turned PAID: the board's stream must hear of the ticket itself, or a new
-- paid order would reach an open board only with the order's next change.
CREATE FUNCTION shop_board.announce_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM orders.announce(OLD.order_id, NULL, OLD.shop_id, NULL);
  ELSE
    PERFORM orders.announce(NEW.order_id, NULL, NEW.shop_id, NULL);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER announce_ticket AFTER INSERT OR DELETE ON shop_board.tickets
  FOR EACH ROW EXECUTE FUNCTION shop_board.announce_ticket();
