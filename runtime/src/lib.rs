//! What every Courier process shares (the worker, the API, the admin CLI, the tests): reading
//! settings and secrets, logging, the connection to Temporal, readiness checks, the database's
//! migrations, and the read model's one writer. It holds no activity and no route, so the API
//! depends on it without depending on the activities.
//!
//! # Layout
//! - [`settings`]: settings and secrets from the environment, and the defaults (database, task
//!   queue, reconciliation).
//! - [`logging`]: text or JSON lines.
//! - [`temporal`]: connecting as the SDK's environment configuration says.
//! - [`health`]: readiness (Postgres and Temporal), for `/readyz`.
//! - [`read_model`]: every write to the CQRS read model (status projections, the operator's
//!   rebuild and terminate).

pub mod health;
pub mod logging;
pub mod read_model;
pub mod settings;
pub mod temporal;

use sqlx::PgPool;

/// Runs Courier's database migrations (all contexts' schemas and the demo shops).
pub async fn migrate(db: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    sqlx::migrate!("../migrations").run(db).await
}
