//! The read model: the orders as the status API shows them (CQRS). This module is its one writer:
//! the workflow's status changes ([`project_in`], from `record_status`), the rebuild from
//! workflows ([`replace`]) and an operator's terminate ([`mark_terminated`]); the API only reads.

use std::sync::Arc;

use courier_workflows::contracts::ProjectOrder;
use courier_workflows::order::OrderView;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub struct ReadModelActivities {
    pub db: PgPool,
}

/// Writes `view` unless the row already holds a newer one (higher `seq`); the view carries the
/// order's whole timeline, so retries and out-of-order projections converge on the newest view
/// with the whole timeline. Also used to rebuild the read model from workflows.
pub async fn project(db: &PgPool, view: &OrderView) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    project_in(&mut tx, view).await?;
    tx.commit().await
}

/// [`project`] on the caller's transaction.
pub async fn project_in(conn: &mut PgConnection, view: &OrderView) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO orders.orders (order_id, customer_id, shop_id, status, items, total_minor, \
           currency, delivery_address, rider, reason, attention, created_at, updated_at, seq, \
           timeline) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status, rider = EXCLUDED.rider, \
           reason = EXCLUDED.reason, attention = EXCLUDED.attention, \
           updated_at = EXCLUDED.updated_at, seq = EXCLUDED.seq, timeline = EXCLUDED.timeline, \
           projected_at = now() \
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
    .bind(Json(&view.timeline))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Replaces an order's row with `view` (rebuilding the read model from its workflow), in one
/// transaction: a row that is already newer than `view` is left alone.
pub async fn replace(db: &PgPool, view: &OrderView) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM orders.orders WHERE order_id = $1 AND seq <= $2")
        .bind(view.order_id.uuid())
        .bind(view.seq)
        .execute(&mut *tx)
        .await?;
    project_in(&mut tx, view).await?;
    tx.commit().await
}

/// Marks an order whose workflow was terminated: `NEEDS_ATTENTION`, with a timeline entry and the
/// reason, so operators still find it. The workflow can no longer speak for the order, so the
/// operator's action writes this (the one write not made by a workflow).
pub async fn mark_terminated(
    db: &PgPool,
    order_id: uuid::Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE orders.orders SET status = 'NEEDS_ATTENTION', reason = $2, \
           attention = jsonb_build_object('step', 'terminated', 'error', $2::text, 'attempts', 0), \
           updated_at = now(), projected_at = now(), seq = seq + 1, \
           timeline = timeline || jsonb_build_array(jsonb_build_object( \
             'seq', seq + 1, 'status', 'NEEDS_ATTENTION', 'at', now())) \
         WHERE order_id = $1",
    )
    .bind(order_id)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(())
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
