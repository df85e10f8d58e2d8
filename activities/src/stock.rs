//! Stock: reserves an order's items all at once or not at all, and gives them back.

use std::sync::Arc;

use courier_workflows::contracts::{ReleaseStock, ReserveOutcome, ReserveStock, StockReservation};
use courier_workflows::domain::OrderId;
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub struct StockActivities {
    pub db: PgPool,
}

#[activities]
impl StockActivities {
    /// Decrements each item's stock in one transaction, rows locked in a fixed order, so two orders
    /// for the last item cannot both succeed and concurrent orders cannot deadlock. A retry after a
    /// committed reservation finds the reservation rows and answers `Reserved` again.
    #[activity(definition = ReserveStock)]
    pub async fn reserve_stock(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: StockReservation,
    ) -> Result<ReserveOutcome, ActivityError> {
        let mut tx = self.db.begin().await?;
        crate::lock_order(&mut tx, "stock", input.order_id).await?;
        let order_id = input.order_id.uuid();
        let released: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM stock.released_orders WHERE order_id = $1)",
        )
        .bind(order_id)
        .fetch_one(&mut *tx)
        .await?;
        if released {
            // A late attempt after the order's stock was given back: it reserves nothing.
            return Ok(ReserveOutcome::Released);
        }
        let already: i64 =
            sqlx::query_scalar("SELECT count(*) FROM stock.reservations WHERE order_id = $1")
                .bind(order_id)
                .fetch_one(&mut *tx)
                .await?;
        if already > 0 {
            return Ok(ReserveOutcome::Reserved);
        }
        let mut items = input.items.clone();
        items.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        for (item, quantity) in &items {
            let wanted = i64::from(quantity.get());
            let row: Option<(i64, String)> = sqlx::query_as(
                "SELECT l.on_hand, m.name FROM stock.levels l \
                 JOIN catalog.menu_items m USING (menu_item_id) \
                 WHERE l.menu_item_id = $1 FOR UPDATE OF l",
            )
            .bind(item.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let (on_hand, name) = row.unwrap_or((0, item.to_string()));
            if on_hand < wanted {
                tx.rollback().await?;
                return Ok(ReserveOutcome::OutOfStock {
                    menu_item_id: item.clone(),
                    name,
                    available: on_hand,
                });
            }
            sqlx::query(
                "UPDATE stock.levels SET on_hand = on_hand - $2, updated_at = now() \
                 WHERE menu_item_id = $1",
            )
            .bind(item.as_str())
            .bind(wanted)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO stock.reservations (order_id, menu_item_id, quantity) \
                 VALUES ($1, $2, $3)",
            )
            .bind(order_id)
            .bind(item.as_str())
            .bind(wanted)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(ReserveOutcome::Reserved)
    }

    /// Puts back what the order still holds; marking the reservation released in the same
    /// transaction makes a second release a no-op, and remembering the order makes a reservation
    /// attempt that arrives later reserve nothing.
    #[activity(definition = ReleaseStock)]
    pub async fn release_stock(
        self: Arc<Self>,
        _ctx: ActivityContext,
        order_id: OrderId,
    ) -> Result<(), ActivityError> {
        let mut tx = self.db.begin().await?;
        crate::lock_order(&mut tx, "stock", order_id).await?;
        sqlx::query(
            "INSERT INTO stock.released_orders (order_id) VALUES ($1) ON CONFLICT DO NOTHING",
        )
        .bind(order_id.uuid())
        .execute(&mut *tx)
        .await?;
        let released: Vec<(String, i64)> = sqlx::query_as(
            "UPDATE stock.reservations SET released_at = now() \
             WHERE order_id = $1 AND released_at IS NULL \
             RETURNING menu_item_id, quantity",
        )
        .bind(order_id.uuid())
        .fetch_all(&mut *tx)
        .await?;
        for (item, quantity) in released {
            sqlx::query(
                "UPDATE stock.levels SET on_hand = on_hand + $2, updated_at = now() \
                 WHERE menu_item_id = $1",
            )
            .bind(item)
            .bind(quantity)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
