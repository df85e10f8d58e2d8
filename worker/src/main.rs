//! `courier-worker`: runs the order saga's workflow and activities until SIGTERM or Ctrl-C, then
//! stops polling and lets running tasks finish (up to `COURIER_WORKER_SHUTDOWN_SECS`). Serves
//! `/healthz`, `/readyz` and `/metrics` on `COURIER_WORKER_HTTP_ADDR` (default `127.0.0.1:9000`).
//! Temporal is reached through the SDK's environment configuration (`TEMPORAL_ADDRESS`,
//! `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, TLS settings); see the README for the rest.

use std::sync::Arc;

use anyhow::Context;
use courier_runtime::logging::init_logging;
use courier_runtime::settings::env_or;
use courier_worker::{WorkerSettings, connect_db, ops, run_worker};
use temporalio_common::telemetry::metrics::CoreMeter;
use temporalio_common::telemetry::{PrometheusExporterOptions, start_prometheus_metric_exporter};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let settings = WorkerSettings::from_env()?;
    let db = connect_db(&settings.database_url, settings.db_max_connections).await?;
    let client = courier_runtime::temporal::connect_temporal().await?;

    // The SDK's exporter listens on loopback only; /metrics on the ops address relays it.
    let exporter = start_prometheus_metric_exporter(
        PrometheusExporterOptions::builder()
            .socket_addr("127.0.0.1:0".parse()?)
            .counters_total_suffix(true)
            .use_seconds_for_durations(true)
            .build(),
    )?;
    let ops_addr = env_or("COURIER_WORKER_HTTP_ADDR", "127.0.0.1:9000");
    let listener = tokio::net::TcpListener::bind(&ops_addr)
        .await
        .with_context(|| format!("binding {ops_addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, "worker health and metrics listening");
    let ops = ops::router(db.clone(), client.clone(), Some(exporter.bound_addr));
    let (stopped_tx, stopped_rx) = tokio::sync::watch::channel(false);
    let mut ops_stopped = stopped_rx.clone();
    let ops_server = tokio::spawn(async move {
        axum::serve(listener, ops)
            .with_graceful_shutdown(async move {
                let _ = ops_stopped.wait_for(|s| *s).await;
            })
            .await
    });

    let meter = exporter.meter.clone() as Arc<dyn CoreMeter>;
    let result = run_worker(client, settings, db, Some(meter), shutdown_signal()).await;
    let _ = stopped_tx.send(true);
    let _ = ops_server.await;
    result
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping polls, finishing running tasks"),
        _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: stopping polls, finishing running tasks"),
    }
}
