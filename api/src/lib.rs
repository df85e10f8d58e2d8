//! Courier's REST API: customers place and follow orders, shops and riders move them along.
//!
//! It reads shops and menus from the catalog and orders only from the Postgres read model (CQRS),
//! and it changes an order only by talking to its workflow through Temporal (update-with-start,
//! updates). It never calls the payment provider, the shop board or dispatch itself.
//!
//! # Layout
//! - [`routes`]: one module per resource, mirroring the URL paths.
//! - [`read_model`], [`catalog`]: the queries the API answers from.
//! - [`workflow`]: the calls into order workflows and how their refusals map to HTTP.
//! - [`error`], [`body`]: the error shape and the JSON body reader.

pub mod body;
pub mod catalog;
pub mod error;
pub mod read_model;
pub mod routes;
pub mod workflow;

use std::time::Duration;

use axum::Router;
use courier_workflows::order::SagaPolicy;
use sqlx::PgPool;
use temporalio_client::Client;
use tower_http::trace::TraceLayer;

/// The API's settings, from the environment (see the README for defaults).
#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub bind: String,
    pub database_url: String,
    pub task_queue: String,
    /// How long `POST /orders` waits for the payment result before answering `202`.
    pub payment_wait: Duration,
    /// Timeouts and retries given to each new order's saga.
    pub saga: SagaPolicy,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name).ok().filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("{name} must be a number, got {v:?}")),
    }
}

impl ApiSettings {
    pub fn from_env() -> anyhow::Result<Self> {
        let defaults = SagaPolicy::default();
        Ok(Self {
            bind: env_or("COURIER_API_ADDR", "127.0.0.1:8080"),
            database_url: env_or(
                "DATABASE_URL",
                "postgres://courier:courier@127.0.0.1:5433/courier",
            ),
            task_queue: env_or("COURIER_TASK_QUEUE", "courier-orders"),
            payment_wait: Duration::from_secs(env_number("COURIER_PAYMENT_WAIT_SECS", 10)?),
            saga: SagaPolicy {
                activity_timeout_secs: env_number(
                    "COURIER_ACTIVITY_TIMEOUT_SECS",
                    defaults.activity_timeout_secs,
                )?,
                initial_retry_interval_ms: env_number(
                    "COURIER_RETRY_INITIAL_MS",
                    defaults.initial_retry_interval_ms,
                )?,
                max_retry_interval_secs: env_number(
                    "COURIER_RETRY_MAX_SECS",
                    defaults.max_retry_interval_secs,
                )?,
                delivery_fee_minor: env_number(
                    "COURIER_DELIVERY_FEE_MINOR",
                    defaults.delivery_fee_minor,
                )?,
                shop_accept_timeout_secs: env_number(
                    "COURIER_SHOP_ACCEPT_TIMEOUT_SECS",
                    defaults.shop_accept_timeout_secs,
                )?,
                dispatch_timeout_secs: env_number(
                    "COURIER_DISPATCH_TIMEOUT_SECS",
                    defaults.dispatch_timeout_secs,
                )?,
                payment_deadline_secs: env_number(
                    "COURIER_PAYMENT_DEADLINE_SECS",
                    defaults.payment_deadline_secs,
                )?,
                compensation_attempts: env_number(
                    "COURIER_COMPENSATION_ATTEMPTS",
                    defaults.compensation_attempts,
                )?,
                notification_max_retry_interval_secs: env_number(
                    "COURIER_NOTIFICATION_RETRY_MAX_SECS",
                    defaults.notification_max_retry_interval_secs,
                )?,
                notification_give_up_after_secs: env_number(
                    "COURIER_NOTIFICATION_GIVE_UP_SECS",
                    defaults.notification_give_up_after_secs,
                )?,
            },
        })
    }
}

#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub temporal: Client,
    pub settings: ApiSettings,
}

pub fn app(state: AppState) -> Router {
    routes::router()
        .with_state(state)
        .layer(TraceLayer::new_for_http())
}

/// Serves the API on `listener` until `shutdown` resolves, finishing requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
