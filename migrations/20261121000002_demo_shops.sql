-- Demo shops, modelled on what Korean delivery apps list: a florist, a pizzeria and a Korean
-- restaurant, priced in won. Stock counts are what each shop can make or hold today.

INSERT INTO catalog.shops (shop_id, name, kind, address, phone) VALUES
    ('seoul-bloom',   'Seoul Bloom Flowers', 'flower_shop', '12 Yeonnam-ro, Mapo-gu, Seoul',     '+8223330101'),
    ('napoli-oven',   'Napoli Oven Pizza',   'pizzeria',    '45 Itaewon-ro, Yongsan-gu, Seoul',  '+8227900202'),
    ('halmeoni-table','Halmeoni''s Table',   'restaurant',  '8 Insadong-gil, Jongno-gu, Seoul',  '+8227340303');

INSERT INTO catalog.menu_items (menu_item_id, shop_id, name, price_minor, currency, position) VALUES
    ('rose-bouquet-12',     'seoul-bloom',    'Red rose bouquet (12 stems)',   45000, 'KRW', 1),
    ('tulip-basket',        'seoul-bloom',    'Spring tulip basket',           38000, 'KRW', 2),
    ('money-tree-pot',      'seoul-bloom',    'Potted money tree',             29000, 'KRW', 3),
    ('margherita',          'napoli-oven',    'Margherita pizza',              18900, 'KRW', 1),
    ('diavola',             'napoli-oven',    'Diavola pizza',                 21900, 'KRW', 2),
    ('garlic-bread',        'napoli-oven',    'Garlic bread',                   5500, 'KRW', 3),
    ('cola-500',            'napoli-oven',    'Cola 500 ml',                    2500, 'KRW', 4),
    ('bibimbap',            'halmeoni-table', 'Dolsot bibimbap',               11000, 'KRW', 1),
    ('kimchi-jjigae',       'halmeoni-table', 'Kimchi jjigae',                  9500, 'KRW', 2),
    ('bulgogi-set',         'halmeoni-table', 'Bulgogi set for two',           32000, 'KRW', 3),
    ('haemul-pajeon',       'halmeoni-table', 'Seafood pancake',               16000, 'KRW', 4);

INSERT INTO stock.levels (menu_item_id, on_hand) VALUES
    ('rose-bouquet-12', 20), ('tulip-basket', 10), ('money-tree-pot', 5),
    ('margherita', 50), ('diavola', 40), ('garlic-bread', 60), ('cola-500', 100),
    ('bibimbap', 40), ('kimchi-jjigae', 40), ('bulgogi-set', 15), ('haemul-pajeon', 25);

INSERT INTO dispatch.riders (rider_id, name, phone) VALUES
    ('rider-jiwoo',  'Kim Ji-woo',  '+821055501001'),
    ('rider-minho',  'Lee Min-ho',  '+821055501002'),
    ('rider-seoyeon','Park Seo-yeon','+821055501003');
