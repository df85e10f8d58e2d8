//! A sandbox card-payment provider, so Courier can be run and tested against a real HTTP API with
//! its own books, without a real card network. It behaves like a card API: charges, refunds and
//! payouts, bearer-key authentication, idempotency keys (a replay returns the first answer; the
//! same key with another body is refused), and test cards:
//!
//! | card                 | result                          |
//! |----------------------|---------------------------------|
//! | `4242424242424242`   | succeeds                        |
//! | `4000000000000002`   | declined (`card_declined`)      |
//! | `4000000000000119`   | 500 to its first two attempts per idempotency key, then succeeds |
//! | `4000000000006975`   | succeeds after a delay (3 s)    |
//! | any other valid card | succeeds                        |
//!
//! `PUT /sandbox/outage {"down": true}` takes the whole provider down (every `/v1` request answers
//! 503) until `{"down": false}`.
//!
//! It is not part of Courier: Courier reaches it only over HTTP, at a configurable base URL.

mod api;
mod ledger;

pub use api::{AppState, Behaviour, router};

use sqlx::PgPool;

pub async fn migrate(db: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    sqlx::migrate!("./migrations").run(db).await
}

/// Serves the sandbox on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
