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
//! - [`admin`]: operator endpoints (stuck orders, retry, restart, cancel, terminate, rebuild).
//! - [`metrics`]: Prometheus metrics; `openapi.json` (beside `src/`) describes every route.
//! - [`error`], [`body`]: the error shape and the JSON body reader.

pub mod admin;
pub mod body;
pub mod catalog;
pub mod cli;
pub mod error;
pub mod metrics;
pub mod read_model;
pub mod routes;
pub mod workflow;

use std::time::Duration;

use axum::Router;
use courier_activities::config::{DEFAULT_DATABASE_URL, env_number, env_or, secret, secret_or};
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
    /// The bearer token of operators (`/admin`); none disables the admin endpoints.
    pub operator_token: Option<String>,
    /// The Temporal UI, for links to an order's workflow.
    pub temporal_ui_url: String,
}

impl ApiSettings {
    pub fn from_env() -> anyhow::Result<Self> {
        let defaults = SagaPolicy::default();
        Ok(Self {
            bind: env_or("COURIER_API_ADDR", "127.0.0.1:8080"),
            database_url: secret_or("DATABASE_URL", DEFAULT_DATABASE_URL)?,
            operator_token: secret("COURIER_OPERATOR_TOKEN")?,
            temporal_ui_url: env_or("TEMPORAL_UI_URL", "http://127.0.0.1:8233"),
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
    pub metrics: metrics::Metrics,
}

impl AppState {
    pub fn new(db: PgPool, temporal: Client, settings: ApiSettings) -> Self {
        Self {
            db,
            temporal,
            settings,
            metrics: metrics::Metrics::new(),
        }
    }
}

pub fn app(state: AppState) -> Router {
    routes::router()
        .merge(admin::router(state.clone()))
        .merge(routes::docs())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .with_state(state)
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            tracing::info_span!("http", method = %request.method(), path = %request.uri().path())
        }))
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
