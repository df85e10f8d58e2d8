//! The read model: the orders as the status API shows them (CQRS). Only the workflow writes it,
//! through [`ReadModelActivities::project_order`]; the API only reads it.

use std::sync::Arc;

use courier_workflows::contracts::ProjectOrder;
use courier_workflows::order::OrderView;
use sqlx::PgPool;
use sqlx::types::Json;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub struct ReadModelActivities {
    pub db: PgPool,
}

/// Writes `view` unless the row already holds a newer one (higher `seq`); the timeline keeps
/// every entry it is given. Retries and out-of-order projections therefore converge on the
/// newest view with the whole timeline. Also used to rebuild the read model from workflows.
pub async fn project(db: &PgPool, view: &OrderView) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO orders.orders (order_id, customer_id, shop_id, status, items, total_minor, \
           currency, delivery_address, rider, reason, attention, created_at, updated_at, seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status, rider = EXCLUDED.rider, \
           reason = EXCLUDED.reason, attention = EXCLUDED.attention, \
           updated_at = EXCLUDED.updated_at, seq = EXCLUDED.seq, projected_at = now() \
         WHERE orders.orders.seq < EXCLUDED.seq",
    )
    .bind(view.order_id.uuid())
    .bind(view.customer_id.as_str())
    .bind(view.shop_id.as_str())
    .bind(view.status.as_str())
    .bind(Json(&view.items))
    .bind(view.total_minor)
    .bind(&view.currency)
    .bind(view.delivery_address.as_str())
    .bind(view.rider.as_ref().map(Json))
    .bind(&view.reason)
    .bind(view.attention.as_ref().map(Json))
    .bind(view.created_at)
    .bind(view.updated_at)
    .bind(view.seq)
    .execute(&mut *tx)
    .await?;
    for entry in &view.timeline {
        sqlx::query(
            "INSERT INTO orders.timeline (order_id, seq, status, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (order_id, seq) DO NOTHING",
        )
        .bind(view.order_id.uuid())
        .bind(entry.seq)
        .bind(entry.status.as_str())
        .bind(entry.at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

#[activities]
impl ReadModelActivities {
    #[activity(definition = ProjectOrder)]
    pub async fn project_order(
        self: Arc<Self>,
        _ctx: ActivityContext,
        view: OrderView,
    ) -> Result<(), ActivityError> {
        project(&self.db, &view).await?;
        Ok(())
    }
}
