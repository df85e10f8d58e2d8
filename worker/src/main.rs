//! `courier-worker`: runs the order saga's workflow and activities until SIGTERM or Ctrl-C.
//! Temporal is reached through the SDK's environment configuration (`TEMPORAL_ADDRESS`,
//! `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, TLS settings); see the README for the rest.

use anyhow::Context;
use courier_worker::{WorkerSettings, connect_db, run_worker};
use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::{Client, ClientOptions, Connection};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let settings = WorkerSettings::from_env()?;
    let db = connect_db(&settings.database_url, settings.db_max_connections).await?;
    let (connection, client_options) =
        ClientOptions::load_from_config(LoadClientConfigProfileOptions::default())
            .map_err(|e| anyhow::anyhow!("reading the Temporal connection settings: {e:?}"))?;
    let connection = Connection::connect(connection)
        .await
        .context("connecting to Temporal")?;
    let client = Client::new(connection, client_options)?;
    run_worker(client, settings, db, shutdown_signal()).await
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: shutting down"),
    }
}
