//! Courier's REST API: customers place and follow orders, shops and riders move them along.
//!
//! It reads shops and menus from the catalog and orders only from the Postgres read model (CQRS),
//! and it changes an order only by talking to its workflow through Temporal (update-with-start,
//! updates). It calls the payment provider only to exchange a card number for a payment method
//! ([`payment_methods`]), never the shop board or dispatch.
//!
//! # Layout
//! - [`routes`]: one module per resource, mirroring the URL paths.
//! - [`read_model`], [`catalog`]: the queries the API answers from.
//! - [`workflow`]: the calls into order workflows and how their refusals map to HTTP.
//! - [`admin`]: operator endpoints (stuck orders, retry, restart, cancel, terminate, rebuild).
//! - [`metrics`]: Prometheus metrics.
//! - [`error`], [`extract`]: the error shape and codes, and how requests are read.
//! - [`live`]: the read model's changes as server-sent events (tracking page, board, rider list).
//! - [`web`]: the browser front end (`api/web/`), embedded in the binary and served at `/app/`.
//! - [`openapi`]: the description generated from the handlers (`api/openapi.json` is its snapshot).

pub mod admin;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod error;
pub mod extract;
pub mod live;
pub mod metrics;
pub mod payment_methods;
pub mod placement;
pub mod rate_limit;
pub mod read_model;
pub mod routes;
pub mod web;
pub mod workflow;

use std::time::Duration;

use axum::Router;
use courier_runtime::settings::{
    DEFAULT_DATABASE_URL, DEFAULT_TASK_QUEUE, env_number, env_or, secret_or,
};
use courier_workflows::order::SagaPolicy;
use courier_workflows::reconciliation_workflow::ReconcilePolicy;
use sqlx::PgPool;
use temporalio_client::Client;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

/// The API's settings, from the environment (see the README for defaults).
#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub bind: String,
    pub database_url: String,
    pub task_queue: String,
    /// How long `POST /orders` waits for Temporal to confirm it started the order's workflow.
    pub start_timeout: Duration,
    /// How long `POST /orders` waits for the payment result before answering `202`.
    pub payment_wait: Duration,
    /// How long an `Idempotency-Key` is remembered (well inside the namespace's retention).
    pub idempotency_key_ttl: Duration,
    /// What a reconciliation run on an operator's demand looks at.
    pub reconcile: ReconcilePolicy,
    /// Timeouts and retries given to each new order's saga.
    pub saga: SagaPolicy,
    /// How callers' tokens are verified (see [`auth`]).
    pub auth: auth::AuthSettings,
    /// The Temporal UI, for links to an order's workflow.
    pub temporal_ui_url: String,
    /// How many orders one customer may place (`None`: no limit).
    pub order_rate: Option<rate_limit::OrderRateLimit>,
    /// The payment provider, which tokenizes customers' cards.
    pub payment_provider: courier_runtime::settings::PaymentProviderConfig,
}

impl ApiSettings {
    pub async fn from_env() -> anyhow::Result<Self> {
        let defaults = SagaPolicy::default();
        let settings = Self {
            bind: env_or("COURIER_API_ADDR", "127.0.0.1:8080"),
            database_url: secret_or("DATABASE_URL", DEFAULT_DATABASE_URL)?,
            auth: auth::AuthSettings::from_env().await?,
            temporal_ui_url: env_or("TEMPORAL_UI_URL", "http://127.0.0.1:8233"),
            payment_provider: courier_runtime::settings::PaymentProviderConfig::from_env()?,
            order_rate: match env_number("COURIER_ORDER_RATE_PER_MINUTE", 30u32)? {
                0 => None,
                per_minute => Some(rate_limit::OrderRateLimit {
                    per_minute,
                    burst: env_number("COURIER_ORDER_RATE_BURST", 10u32)?,
                }),
            },
            task_queue: env_or("COURIER_TASK_QUEUE", DEFAULT_TASK_QUEUE),
            start_timeout: Duration::from_secs(env_number("COURIER_START_TIMEOUT_SECS", 5)?),
            payment_wait: Duration::from_secs(env_number("COURIER_PAYMENT_WAIT_SECS", 10)?),
            idempotency_key_ttl: Duration::from_secs(env_number(
                "COURIER_IDEMPOTENCY_KEY_TTL_SECS",
                12 * 3600,
            )?),
            reconcile: courier_runtime::settings::reconcile_policy()?,
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
                payout_attempts: env_number("COURIER_PAYOUT_ATTEMPTS", defaults.payout_attempts)?,
                ready_timeout_secs: env_number(
                    "COURIER_READY_TIMEOUT_SECS",
                    defaults.ready_timeout_secs,
                )?,
                pickup_timeout_secs: env_number(
                    "COURIER_PICKUP_TIMEOUT_SECS",
                    defaults.pickup_timeout_secs,
                )?,
                delivery_timeout_secs: env_number(
                    "COURIER_DELIVERY_TIMEOUT_SECS",
                    defaults.delivery_timeout_secs,
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
        };
        settings
            .saga
            .check()
            .map_err(|problems| anyhow::anyhow!("unsafe saga settings: {problems}"))?;
        anyhow::ensure!(
            !settings.idempotency_key_ttl.is_zero(),
            "COURIER_IDEMPOTENCY_KEY_TTL_SECS must be above 0"
        );
        Ok(settings)
    }
}

#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub temporal: Client,
    pub settings: ApiSettings,
    pub metrics: metrics::Metrics,
    pub tokenizer: payment_methods::Tokenizer,
    /// Changes of the read model, for the live streams ([`live`]).
    pub live: live::Feed,
}

impl AppState {
    pub fn new(db: PgPool, temporal: Client, settings: ApiSettings) -> Self {
        Self {
            tokenizer: payment_methods::Tokenizer::new(settings.payment_provider.clone()),
            db,
            temporal,
            settings,
            metrics: metrics::Metrics::new(),
            live: live::Feed::default(),
        }
    }
}

/// Every route and its description: the public routes, and the admin routes behind the operator
/// token when `state` is given (and then placements under the per-customer rate limit).
fn routes(state: Option<&AppState>) -> utoipa_axum::router::OpenApiRouter<AppState> {
    let placement = routes::placement();
    let placement = match state.and_then(|s| s.settings.order_rate) {
        Some(limit) => rate_limit::limited(placement, limit),
        None => placement,
    };
    let admin = admin::router();
    let admin = match state {
        Some(state) => admin.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admin::require_operator,
        )),
        None => admin,
    };
    utoipa_axum::router::OpenApiRouter::with_openapi(routes::ApiDoc::openapi())
        .merge(placement)
        .merge(routes::router())
        .merge(admin)
}

/// The OpenAPI description of every route, generated from the handlers and their types (served
/// at `/openapi.json`; `api/openapi.json` is its committed snapshot).
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes(None).into_openapi()
}

/// The largest request body the API reads (an order of 50 lines is a few kilobytes); a larger one
/// is `413 payload_too_large`.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn app(state: AppState) -> Router {
    let (router, openapi) = routes(Some(&state)).split_for_parts();
    routes::fallbacks(router)
        .merge(routes::docs(openapi))
        .merge(web::router())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            tracing::info_span!("http", method = %request.method(), path = %request.uri().path())
        }))
}

/// Serves the API on `listener` until `shutdown` resolves, finishing requests in flight; meanwhile
/// forgets idempotency keys past their time, every few minutes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // A feed of its own: closing it at shutdown ends this server's streams only (a server started
    // again on the same state streams anew).
    let state = AppState {
        live: live::Feed::default(),
        ..state
    };
    let sweeper = tokio::spawn(expire_keys_periodically(state.clone()));
    let listener_task = tokio::spawn(live::listen(state.db.clone(), state.live.clone()));
    let feed = state.live.clone();
    let served = axum::serve(listener, app(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Open streams would keep their connections, and the shutdown, waiting.
            feed.close();
        })
        .await;
    sweeper.abort();
    listener_task.abort();
    served
}

async fn expire_keys_periodically(state: AppState) {
    let mut every = tokio::time::interval(Duration::from_secs(300));
    loop {
        every.tick().await;
        match placement::expire_keys(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "idempotency keys expired"),
            Err(err) => tracing::warn!(error = %err, "expiring idempotency keys failed"),
        }
    }
}

/// Refuses an idempotency-key lifetime that is not well inside the namespace's retention: a key
/// must never outlive the workflow-id protection behind it.
pub async fn check_key_ttl(temporal: &Client, ttl: Duration) -> anyhow::Result<()> {
    use temporalio_client::NamespacedClient;
    use temporalio_client::tonic::IntoRequest;
    use temporalio_common::protos::temporal::api::workflowservice::v1::DescribeNamespaceRequest;
    let described = temporal
        .connection()
        .workflow_service()
        .describe_namespace(
            DescribeNamespaceRequest {
                namespace: temporal.namespace(),
                ..Default::default()
            }
            .into_request(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("describing the Temporal namespace: {}", e.message()))?
        .into_inner();
    let retention = described
        .config
        .and_then(|c| c.workflow_execution_retention_ttl)
        .map(|d| Duration::from_secs(d.seconds.max(0) as u64));
    if let Some(retention) = retention.filter(|r| !r.is_zero()) {
        anyhow::ensure!(
            ttl * 2 <= retention,
            "COURIER_IDEMPOTENCY_KEY_TTL_SECS ({}s) must be at most half the namespace's retention \
             ({}s), so a key never outlives the workflow-id protection behind it",
            ttl.as_secs(),
            retention.as_secs()
        );
    }
    Ok(())
}
