//! `GET /metrics` in Prometheus' text format: the API's HTTP traffic (requests by route, method and
//! status; latency by route), and, read from Postgres at each scrape, orders by status, ended
//! compensations, notification outcomes and the read model's lag behind the workflows. The
//! worker's `/metrics` adds the Temporal SDK's own metrics, among them every saga step's duration
//! (`temporal_activity_execution_latency_seconds` by `activity_type`).

use std::fmt::Write;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use sqlx::PgPool;

use crate::AppState;
use crate::error::ApiResult;

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "courier_http_requests_total",
                "HTTP requests answered, by route, method and status.",
            ),
            &["route", "method", "status"],
        )
        .expect("a valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "courier_http_request_duration_seconds",
                "Time to answer an HTTP request, by route and method.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route", "method"],
        )
        .expect("a valid metric");
        registry
            .register(Box::new(requests.clone()))
            .expect("registered once");
        registry
            .register(Box::new(latency.clone()))
            .expect("registered once");
        Self {
            registry,
            requests,
            latency,
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts and times every request under its route template (never its raw path, so order ids do
/// not explode the label space).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let metrics = &state.metrics;
    metrics
        .latency
        .with_label_values(&[route.as_str(), method.as_str()])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .with_label_values(&[route.as_str(), method.as_str(), response.status().as_str()])
        .inc();
    response
}

/// Prometheus metrics: requests by route, method and status, their latency, and orders by status.
#[utoipa::path(
    get, path = "/metrics", tag = "operations", operation_id = "getMetrics",
    responses(
        (status = 200, description = "The Prometheus text format.", body = String,
            content_type = "text/plain; version=0.0.4"),
        (status = 500, description = "`internal`", body = crate::error::ErrorBody),
    )
)]
pub async fn render(State(state): State<AppState>) -> ApiResult<Response> {
    let mut text = String::new();
    let mut buffer = Vec::new();
    TextEncoder::new()
        .encode(&state.metrics.registry.gather(), &mut buffer)
        .map_err(|e| crate::error::ApiError::internal("encoding metrics", e))?;
    text.push_str(&String::from_utf8_lossy(&buffer));
    read_model_metrics(&state.db, &mut text).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

async fn read_model_metrics(db: &PgPool, out: &mut String) -> Result<(), sqlx::Error> {
    let by_status: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, count(*) FROM orders.orders GROUP BY status ORDER BY status",
    )
    .fetch_all(db)
    .await?;
    let _ = writeln!(
        out,
        "# HELP courier_orders Orders in the read model, by status.\n# TYPE courier_orders gauge"
    );
    for (status, count) in &by_status {
        let _ = writeln!(out, "courier_orders{{status=\"{status}\"}} {count}");
    }
    let _ = writeln!(
        out,
        "# HELP courier_compensations_total Orders the saga compensated, by how they ended.\n# TYPE courier_compensations_total counter"
    );
    for ended in [
        "CANCELLED",
        "REJECTED",
        "PAYMENT_FAILED",
        "PAYMENT_DECLINED",
    ] {
        let count = by_status
            .iter()
            .find(|(s, _)| s == ended)
            .map_or(0, |(_, c)| *c);
        let _ = writeln!(
            out,
            "courier_compensations_total{{ended=\"{ended}\"}} {count}"
        );
    }
    let notifications: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT channel, state, count(*) FROM notifications.messages GROUP BY channel, state ORDER BY channel, state",
    )
    .fetch_all(db)
    .await?;
    let _ = writeln!(
        out,
        "# HELP courier_notifications Notifications in the log, by channel and outcome.\n# TYPE courier_notifications gauge"
    );
    for (channel, state, count) in notifications {
        let _ = writeln!(
            out,
            "courier_notifications{{channel=\"{channel}\",state=\"{state}\"}} {count}"
        );
    }
    let findings: Vec<(String, i64)> = sqlx::query_as(
        "SELECT kind, count(*) FILTER (WHERE NOT repaired) FROM operations.reconciliation_findings \
         WHERE run_id = (SELECT max(run_id) FROM operations.reconciliation_runs) GROUP BY kind",
    )
    .fetch_all(db)
    .await?;
    let _ = writeln!(
        out,
        "# HELP courier_reconciliation_findings Disagreements between the provider's books and the orders left unrepaired by the last reconciliation, by kind.\n# TYPE courier_reconciliation_findings gauge"
    );
    for kind in courier_workflows::contracts::FindingKind::ALL {
        let count = findings
            .iter()
            .find(|(k, _)| k == kind.as_str())
            .map_or(0, |(_, c)| *c);
        let _ = writeln!(
            out,
            "courier_reconciliation_findings{{kind=\"{}\"}} {count}",
            kind.as_str()
        );
    }
    let lag: (Option<f64>, Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag), \
                percentile_cont(0.99) WITHIN GROUP (ORDER BY lag), max(lag) \
         FROM (SELECT GREATEST(EXTRACT(EPOCH FROM projected_at - updated_at), 0)::float8 AS lag \
               FROM orders.orders WHERE projected_at > now() - interval '15 minutes') recent",
    )
    .fetch_one(db)
    .await?;
    let _ = writeln!(
        out,
        "# HELP courier_read_model_lag_seconds Delay from a status change in a workflow to its projection in the read model, over the last 15 minutes.\n# TYPE courier_read_model_lag_seconds gauge"
    );
    for (quantile, value) in [("0.5", lag.0), ("0.99", lag.1), ("1", lag.2)] {
        let _ = writeln!(
            out,
            "courier_read_model_lag_seconds{{quantile=\"{quantile}\"}} {}",
            value.unwrap_or(0.0)
        );
    }
    Ok(())
}
