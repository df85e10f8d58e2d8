//! Shops and menus, as customers browse them: the catalog joined with today's stock.

use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

/// A shop customers can order from.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Shop {
    pub shop_id: String,
    pub name: String,
    pub kind: String,
    pub address: String,
}

/// An item on a shop's menu, with what is in stock today.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct MenuItem {
    pub menu_item_id: String,
    pub name: String,
    /// The price in minor units of `currency`.
    pub price_minor: i64,
    pub currency: String,
    /// How many can still be ordered (reservations already taken off).
    pub stock: i64,
}

pub async fn shops(db: &PgPool) -> Result<Vec<Shop>, sqlx::Error> {
    sqlx::query_as("SELECT shop_id, name, kind, address FROM catalog.shops ORDER BY name")
        .fetch_all(db)
        .await
}

pub async fn shop(db: &PgPool, shop_id: &str) -> Result<Option<Shop>, sqlx::Error> {
    sqlx::query_as("SELECT shop_id, name, kind, address FROM catalog.shops WHERE shop_id = $1")
        .bind(shop_id)
        .fetch_optional(db)
        .await
}

pub async fn menu(db: &PgPool, shop_id: &str) -> Result<Vec<MenuItem>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.menu_item_id, m.name, m.price_minor, m.currency, COALESCE(l.on_hand, 0) AS stock \
         FROM catalog.menu_items m LEFT JOIN stock.levels l USING (menu_item_id) \
         WHERE m.shop_id = $1 ORDER BY m.position, m.menu_item_id",
    )
    .bind(shop_id)
    .fetch_all(db)
    .await
}

/// What a stock manager asks for: add to the stock, or set it outright.
#[derive(Debug, Clone, Copy)]
pub enum StockChange {
    Add(i64),
    Set(i64),
}

/// Applies `change` to a menu item's stock, in one statement so concurrent reservations and
/// changes never lose an update. `None` when the shop has no such item.
pub async fn change_stock(
    db: &PgPool,
    shop_id: &str,
    menu_item_id: &str,
    change: StockChange,
) -> Result<Option<MenuItem>, sqlx::Error> {
    let (add, set) = match change {
        StockChange::Add(n) => (Some(n), None),
        StockChange::Set(n) => (None, Some(n)),
    };
    sqlx::query_as(
        "WITH changed AS ( \
           UPDATE stock.levels l SET on_hand = COALESCE($4, l.on_hand + $3), updated_at = now() \
           FROM catalog.menu_items m \
           WHERE l.menu_item_id = m.menu_item_id AND m.shop_id = $1 AND m.menu_item_id = $2 \
           RETURNING m.menu_item_id, m.name, m.price_minor, m.currency, l.on_hand AS stock) \
         SELECT * FROM changed",
    )
    .bind(shop_id)
    .bind(menu_item_id)
    .bind(add)
    .bind(set)
    .fetch_optional(db)
    .await
}
