//! `courier-api`: serves the REST API until SIGTERM or Ctrl-C, finishing requests in flight.
//! Temporal is reached through the SDK's environment configuration (`TEMPORAL_ADDRESS`,
//! `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, TLS settings); see the README for the rest.

use anyhow::Context;
use courier_api::{ApiSettings, AppState, serve};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    courier_runtime::logging::init_logging();
    let settings = ApiSettings::from_env().await?;
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(20)
        .connect(&settings.database_url)
        .await
        .context("connecting to Courier's database")?;
    let temporal = courier_runtime::temporal::connect_temporal().await?;
    courier_api::check_key_ttl(&temporal, settings.idempotency_key_ttl).await?;
    let listener = tokio::net::TcpListener::bind(&settings.bind)
        .await
        .with_context(|| format!("binding {}", settings.bind))?;
    tracing::info!(addr = %listener.local_addr()?, "Courier API listening");
    serve(
        listener,
        AppState::new(db, temporal, settings),
        shutdown_signal(),
    )
    .await?;
    Ok(())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: finishing requests in flight"),
        _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: finishing requests in flight"),
    }
}
