//! Courier's activities: every effect of the order saga on the world.
//!
//! Each module owns one bounded context and its Postgres schema (or its external provider), and
//! implements the contracts of `courier_workflows::contracts` under their names. Every effect is
//! idempotent, keyed by order id and step, because Temporal retries an activity after a timeout or
//! a worker crash and it may already have happened.
//!
//! # Layout
//! - [`stock`]: atomic reservation and release of menu items.
//! - [`payment`]: charges through the payment provider's HTTP API (`payment_client`).
//! - [`shop_board`]: hands paid orders to their shop.
//! - [`dispatch`]: assigns riders, pays their delivery fee, releases them.
//! - [`read_model`]: the legacy projection activity (the writer is `courier_runtime::read_model`).
//! - [`notifications`]: the log (and outbox) of SMS and emails owed to customers and shops.
//! - [`status`]: publishes a status change: read model and outbox in one transaction.
//! - [`failure`]: which errors are worth a retry.
//!
//! Settings, logging, the Temporal connection, readiness, migrations and the read model's writer
//! are shared with the API and live in `courier-runtime`.

pub mod dispatch;
pub mod failure;
pub mod notifications;
pub mod payment;
pub mod payment_client;
pub mod read_model;
pub mod reconciliation;
pub mod shop_board;
pub mod status;
pub mod stock;

use courier_workflows::domain::OrderId;
use sqlx::PgConnection;

/// Serialises, for the rest of the caller's transaction, every step of one bounded context on one
/// order (a step and its undo): a per-order advisory lock, released at commit or rollback.
pub(crate) async fn lock_order(
    conn: &mut PgConnection,
    context: &str,
    order_id: OrderId,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("{context}:{order_id}"))
        .execute(conn)
        .await?;
    Ok(())
}
