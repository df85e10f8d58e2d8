//! The read side of orders: every answer about an order comes from here, never from Temporal.

use chrono::{DateTime, Utc};
use courier_workflows::domain::MenuItemId;
use courier_workflows::order::{Attention, Cause, OrderLine, OrderStatus, Rider};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::types::Json;
use utoipa::ToSchema;
use uuid::Uuid;

/// An order as `GET /orders/{order_id}` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetails {
    pub order_id: Uuid,
    pub customer_id: String,
    pub shop_id: String,
    #[schema(value_type = OrderStatus)]
    pub status: String,
    pub items: Vec<OrderLine>,
    /// The order's total in minor units of `currency` (KRW: won).
    pub total_minor: i64,
    pub currency: String,
    pub delivery_address: String,
    /// The rider carrying it, once one is assigned.
    pub rider: Option<Rider>,
    /// Why the order ended early, as a sentence (the shop's reason, a declined card, ...).
    pub reason: Option<String>,
    /// The same, as data to branch on (`{"code": "out_of_stock", "menu_item_id": ...}`).
    pub cause: Option<Cause>,
    /// The compensation step waiting for an operator, while `NEEDS_ATTENTION`.
    pub attention: Option<Attention>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Every status the order went through, oldest first.
    pub timeline: Vec<TimelineItem>,
}

impl OrderDetails {
    /// The order's line for `menu_item_id`.
    pub fn line(&self, menu_item_id: &MenuItemId) -> Option<&OrderLine> {
        self.items.iter().find(|l| &l.menu_item_id == menu_item_id)
    }

    /// Whether the order went through `status`.
    pub fn was(&self, status: OrderStatus) -> bool {
        self.timeline.iter().any(|t| t.status == status.as_str())
    }
}

/// One status of an order's timeline, with when it happened.
#[derive(Debug, Serialize, Deserialize, sqlx::FromRow, ToSchema)]
pub struct TimelineItem {
    #[schema(value_type = OrderStatus)]
    pub status: String,
    pub at: DateTime<Utc>,
}

/// One line of a list of orders (a customer's page, a shop's board).
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct OrderSummary {
    pub order_id: Uuid,
    pub customer_id: String,
    pub shop_id: String,
    #[schema(value_type = OrderStatus)]
    pub status: String,
    #[schema(value_type = Vec<OrderLine>)]
    pub items: Value,
    pub total_minor: i64,
    pub currency: String,
    /// The shop has said it is ready for pickup (its status may since have moved on to
    /// `RIDER_ASSIGNED` when the rider was found after that).
    pub ready_for_pickup: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    order_id: Uuid,
    customer_id: String,
    shop_id: String,
    status: String,
    items: Json<Vec<OrderLine>>,
    total_minor: i64,
    currency: String,
    delivery_address: String,
    rider: Option<Json<Rider>>,
    reason: Option<String>,
    cause: Option<Json<Cause>>,
    attention: Option<Json<Attention>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    timeline: Json<Vec<TimelineItem>>,
}

/// The order with its timeline: one primary-key lookup (the status API's hot path).
pub async fn order(db: &PgPool, order_id: Uuid) -> Result<Option<OrderDetails>, sqlx::Error> {
    let row: Option<OrderRow> = sqlx::query_as(
        "SELECT order_id, customer_id, shop_id, status, items, total_minor, currency, \
           delivery_address, rider, reason, cause, attention, created_at, updated_at, timeline \
         FROM orders.orders WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|row| OrderDetails {
        order_id: row.order_id,
        customer_id: row.customer_id,
        shop_id: row.shop_id,
        status: row.status,
        items: row.items.0,
        total_minor: row.total_minor,
        currency: row.currency,
        delivery_address: row.delivery_address,
        rider: row.rider.map(|r| r.0),
        reason: row.reason,
        cause: row.cause.map(|c| c.0),
        attention: row.attention.map(|a| a.0),
        created_at: row.created_at,
        updated_at: row.updated_at,
        timeline: row.timeline.0,
    }))
}

/// The shop an order belongs to, if the order exists.
pub async fn order_shop(db: &PgPool, order_id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT shop_id FROM orders.orders WHERE order_id = $1")
        .bind(order_id)
        .fetch_optional(db)
        .await
}

/// The rider an order is assigned to (`Some(None)`: none yet), if the order exists.
pub async fn order_rider(
    db: &PgPool,
    order_id: Uuid,
) -> Result<Option<Option<String>>, sqlx::Error> {
    sqlx::query_scalar("SELECT rider->>'rider_id' FROM orders.orders WHERE order_id = $1")
        .bind(order_id)
        .fetch_optional(db)
        .await
}

/// Whether the shop has said the order is ready (its timeline went through `READY`).
macro_rules! ready_for_pickup {
    () => {
        r#"timeline @> '[{"status": "READY"}]' AS ready_for_pickup"#
    };
}
const READY_FOR_PICKUP: &str = ready_for_pickup!();

const SUMMARY_COLUMNS: &str = concat!(
    "order_id, customer_id, shop_id, status, items, total_minor, currency, created_at, ",
    "updated_at, ",
    ready_for_pickup!()
);

/// A page of the customer's orders, newest first, strictly after `after` (keyset pagination, so
/// pages stay stable while new orders arrive).
pub async fn customer_orders(
    db: &PgPool,
    customer_id: &str,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<OrderSummary>, sqlx::Error> {
    let (at, id) = after.unzip();
    sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM orders.orders WHERE customer_id = $1 \
           AND ($2::timestamptz IS NULL OR (created_at, order_id) < ($2, $3)) \
         ORDER BY created_at DESC, order_id DESC LIMIT $4"
    ))
    .bind(customer_id)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The shop's board: orders it has been handed (it holds their tickets), optionally of some
/// statuses, newest first.
pub async fn shop_orders(
    db: &PgPool,
    shop_id: &str,
    statuses: &[&str],
    limit: i64,
) -> Result<Vec<OrderSummary>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM orders.orders o WHERE shop_id = $1 AND status = ANY($2) \
           AND EXISTS (SELECT 1 FROM shop_board.tickets t WHERE t.order_id = o.order_id) \
         ORDER BY created_at DESC, order_id DESC LIMIT $3"
    ))
    .bind(shop_id)
    .bind(statuses)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// One of a rider's deliveries, with where to pick it up and where to take it.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Delivery {
    pub order_id: Uuid,
    pub shop_id: String,
    pub shop_name: String,
    /// Where to pick it up.
    pub shop_address: String,
    #[schema(value_type = OrderStatus)]
    pub status: String,
    #[schema(value_type = Vec<OrderLine>)]
    pub items: Value,
    /// Where to take it.
    pub delivery_address: String,
    /// The shop has it ready: the rider may pick it up (its status may be `RIDER_ASSIGNED` when
    /// the rider was found after the shop was ready).
    pub ready_for_pickup: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The rider's deliveries, newest first: the open ones and the last ones done.
pub async fn rider_deliveries(
    db: &PgPool,
    rider_id: &str,
    limit: i64,
) -> Result<Vec<Delivery>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT o.order_id, o.shop_id, s.name AS shop_name, s.address AS shop_address, o.status, \
           o.items, o.delivery_address, {READY_FOR_PICKUP}, o.created_at, o.updated_at \
         FROM orders.orders o JOIN catalog.shops s USING (shop_id) \
         WHERE o.rider->>'rider_id' = $1 AND o.rider IS NOT NULL \
         ORDER BY o.created_at DESC LIMIT $2"
    ))
    .bind(rider_id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Whether some message of the order's notification log is still to be sent.
pub async fn messages_pending(db: &PgPool, order_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM notifications.messages \
           WHERE order_id = $1 AND state IN ('pending', 'sending'))",
    )
    .bind(order_id)
    .fetch_one(db)
    .await
}

/// One message of an order's notification log.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Notification {
    pub status: String,
    pub audience: String,
    pub channel: String,
    pub recipient: String,
    pub language: String,
    pub subject: Option<String>,
    pub body: String,
    pub state: String,
    pub attempts: i32,
    pub provider_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

pub async fn notifications(db: &PgPool, order_id: Uuid) -> Result<Vec<Notification>, sqlx::Error> {
    sqlx::query_as(
        "SELECT status, audience, channel, recipient, language, subject, body, state, attempts, \
           provider_id, last_error, created_at, sent_at \
         FROM notifications.messages WHERE order_id = $1 ORDER BY created_at, audience, channel",
    )
    .bind(order_id)
    .fetch_all(db)
    .await
}

pub use courier_runtime::read_model::{mark_terminated, replace};
