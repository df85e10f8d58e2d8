//! The read model: the orders as the status API shows them (CQRS). This module is its one writer:
//! the workflow's status changes ([`project_in`], from `record_status`), the rebuild from
//! workflows ([`replace`]) and an operator's terminate ([`mark_terminated`]); the API only reads.

use courier_workflows::order::OrderView;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

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
           timeline, cause) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status, rider = EXCLUDED.rider, \
           reason = EXCLUDED.reason, cause = EXCLUDED.cause, attention = EXCLUDED.attention, \
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
    .bind(view.cause.as_ref().map(Json))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The order's last projected view, as the workflow wrote it (for work on an order whose workflow
/// has ended, such as compensating a terminated one).
pub async fn view(db: &PgPool, order_id: uuid::Uuid) -> Result<Option<OrderView>, sqlx::Error> {
    type Row = (
        uuid::Uuid,
        String,
        String,
        String,
        Json<Vec<courier_workflows::order::OrderLine>>,
        i64,
        String,
        String,
        Option<Json<courier_workflows::order::Rider>>,
        Option<String>,
        Option<Json<courier_workflows::order::Attention>>,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        Json<Vec<courier_workflows::order::TimelineEntry>>,
        i64,
        Option<Json<courier_workflows::order::Cause>>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT order_id, customer_id, shop_id, status, items, total_minor, currency, \
           delivery_address, rider, reason, attention, created_at, updated_at, timeline, seq, \
           cause \
         FROM orders.orders WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(db)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let invalid =
        |what: &str| sqlx::Error::Decode(format!("the read model holds an invalid {what}").into());
    use courier_workflows::domain::{CustomerId, DeliveryAddress, OrderId, ShopId};
    Ok(Some(OrderView {
        order_id: OrderId::new(r.0),
        customer_id: CustomerId::parse(&r.1).map_err(|_| invalid("customer id"))?,
        shop_id: ShopId::parse(&r.2).map_err(|_| invalid("shop id"))?,
        status: courier_workflows::order::OrderStatus::parse(&r.3)
            .ok_or_else(|| invalid("status"))?,
        items: r.4.0,
        total_minor: r.5,
        currency: r.6,
        delivery_address: DeliveryAddress::parse(&r.7).map_err(|_| invalid("address"))?,
        rider: r.8.map(|j| j.0),
        reason: r.9,
        cause: r.15.map(|j| j.0),
        attention: r.10.map(|j| j.0),
        created_at: r.11,
        updated_at: r.12,
        timeline: r.13.0,
        seq: r.14,
    }))
}

/// Claims the order's placement for the workflow run `run_id` (on the caller's transaction):
/// `false` when the API already gave it up, or another run of the same order claimed it, so this
/// run must not go on. A retry by the same run finds its own claim. An order placed without a
/// placement row (started some other way) counts as claimed.
pub async fn claim_placement_in(
    conn: &mut PgConnection,
    order_id: courier_workflows::domain::OrderId,
    run_id: &str,
) -> Result<bool, sqlx::Error> {
    let claimed: Option<(String, Option<String>)> = sqlx::query_as(
        "UPDATE orders.placements \
         SET state = CASE WHEN state = 'placing' THEN 'started' ELSE state END, \
             run_id = CASE WHEN state = 'placing' THEN $2 ELSE run_id END \
         WHERE order_id = $1 RETURNING state, run_id",
    )
    .bind(order_id.uuid())
    .bind(run_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match claimed {
        None => true,
        Some((state, claimer)) => state == "started" && claimer.as_deref() == Some(run_id),
    })
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
