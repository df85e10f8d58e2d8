//! The worker's operations endpoints: `/healthz` (the process is alive), `/readyz` (Postgres and
//! Temporal are reachable) and `/metrics` (the Temporal SDK's own metrics: task slots, polls,
//! workflow and activity latencies by type, failures, sticky cache; plus Courier's worker metrics).

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use sqlx::PgPool;
use temporalio_client::Client;

#[derive(Clone)]
struct OpsState {
    db: PgPool,
    temporal: Client,
    /// Where the SDK's Prometheus exporter listens (loopback only); `/metrics` relays it.
    sdk_metrics: Option<SocketAddr>,
    http: reqwest::Client,
}

pub fn router(db: PgPool, temporal: Client, sdk_metrics: Option<SocketAddr>) -> Router {
    let state = OpsState {
        db,
        temporal,
        sdk_metrics,
        http: reqwest::Client::new(),
    };
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn readyz(State(state): State<OpsState>) -> impl IntoResponse {
    let (ready, body) = courier_runtime::health::readiness(&state.db, &state.temporal).await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body))
}

async fn metrics(State(state): State<OpsState>) -> impl IntoResponse {
    let mut text = String::new();
    if let Some(addr) = state.sdk_metrics {
        match state
            .http
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
        {
            Ok(response) => text.push_str(&response.text().await.unwrap_or_default()),
            Err(err) => tracing::warn!(error = %err, "the SDK's metrics exporter did not answer"),
        }
    }
    text.push_str("# HELP courier_worker_up The worker process is running.\n");
    text.push_str("# TYPE courier_worker_up gauge\ncourier_worker_up 1\n");
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
