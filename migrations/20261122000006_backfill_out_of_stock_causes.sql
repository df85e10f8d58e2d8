-- Orders that ran out of stock before `cause` existed: their item is named only in the `reason`
-- sentence ("{name} is out of stock"). Read it once, here, so that the API's replay of such an
-- order's answer reads the cause like any other and no code parses prose.
UPDATE orders.orders o
SET cause = (
    SELECT jsonb_build_object('code', 'out_of_stock', 'menu_item_id', line ->> 'menu_item_id')
    FROM jsonb_array_elements(o.items) AS line
    WHERE o.reason LIKE (line ->> 'name') || ' is out of stock%'
    LIMIT 1
)
WHERE o.status = 'OUT_OF_STOCK' AND o.cause IS NULL;
