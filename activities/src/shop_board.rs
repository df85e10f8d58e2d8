//! Shop board: hands paid orders to their shop. Only a paid order ever reaches this step.

use std::sync::Arc;

use courier_workflows::contracts::{
    PostToShopBoard, ShopTicket, WithdrawFromShopBoard, Withdrawal,
};
use sqlx::PgPool;
use sqlx::types::Json;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub struct ShopBoardActivities {
    pub db: PgPool,
}

#[activities]
impl ShopBoardActivities {
    /// Posts the order's ticket to its shop; the ticket is keyed by order id, so a retry does not
    /// show the shop the same order twice, and an order already withdrawn is not posted.
    #[activity(definition = PostToShopBoard)]
    pub async fn post_to_shop_board(
        self: Arc<Self>,
        _ctx: ActivityContext,
        ticket: ShopTicket,
    ) -> Result<(), ActivityError> {
        let mut tx = self.db.begin().await?;
        crate::lock_order(&mut tx, "shop_board", ticket.order_id).await?;
        sqlx::query(
            "INSERT INTO shop_board.tickets (order_id, shop_id, lines, total_minor, delivery_address) \
             SELECT $1, $2, $3, $4, $5 \
             WHERE NOT EXISTS (SELECT 1 FROM shop_board.withdrawn_orders WHERE order_id = $1) \
             ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(ticket.order_id.uuid())
        .bind(ticket.shop_id.as_str())
        .bind(Json(&ticket.lines))
        .bind(ticket.total_minor)
        .bind(&ticket.delivery_address)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks the order's ticket withdrawn, with the reason the shop reads; only the first
    /// withdrawal counts, so a retry changes nothing, and a ticket that arrives later is not
    /// posted.
    #[activity(definition = WithdrawFromShopBoard)]
    pub async fn withdraw_from_shop_board(
        self: Arc<Self>,
        _ctx: ActivityContext,
        withdrawal: Withdrawal,
    ) -> Result<(), ActivityError> {
        let mut tx = self.db.begin().await?;
        crate::lock_order(&mut tx, "shop_board", withdrawal.order_id).await?;
        sqlx::query(
            "INSERT INTO shop_board.withdrawn_orders (order_id, reason) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(withdrawal.order_id.uuid())
        .bind(&withdrawal.reason)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE shop_board.tickets SET withdrawn_at = now(), withdraw_reason = $2 \
             WHERE order_id = $1 AND withdrawn_at IS NULL",
        )
        .bind(withdrawal.order_id.uuid())
        .bind(&withdrawal.reason)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
