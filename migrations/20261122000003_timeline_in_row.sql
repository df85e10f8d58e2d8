-- The read model is shaped for its one hot read, GET /orders/{id}: the timeline lives in the order's
-- row (the workflow's whole timeline, written with the view it belongs to), so the read is one
-- primary-key lookup instead of a join and an aggregate.

ALTER TABLE orders.orders ADD COLUMN timeline JSONB NOT NULL DEFAULT '[]'::jsonb;

UPDATE orders.orders o SET timeline = t.entries
FROM (SELECT order_id,
             jsonb_agg(jsonb_build_object('seq', seq, 'status', status, 'at', at) ORDER BY seq) AS entries
      FROM orders.timeline GROUP BY order_id) t
WHERE t.order_id = o.order_id;

DROP TABLE orders.timeline;
