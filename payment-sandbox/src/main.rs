//! `payment-sandbox`: runs the sandbox card provider.
//!
//! Environment: `SANDBOX_DATABASE_URL` (its own database), `SANDBOX_ADDR` (default
//! `127.0.0.1:8091`), `SANDBOX_SECRET_KEY` (default `sk_test_courier`).

use anyhow::Context;
use payment_sandbox::{AppState, Behaviour, migrate, serve};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let database_url = std::env::var("SANDBOX_DATABASE_URL").unwrap_or_else(|_| {
        "postgres://courier:courier@127.0.0.1:5433/courier_payments".to_owned()
    });
    let addr = std::env::var("SANDBOX_ADDR").unwrap_or_else(|_| "127.0.0.1:8091".to_owned());
    let secret_key =
        std::env::var("SANDBOX_SECRET_KEY").unwrap_or_else(|_| "sk_test_courier".to_owned());
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect(&database_url)
        .await
        .context("connecting to the sandbox database")?;
    migrate(&db)
        .await
        .context("migrating the sandbox database")?;
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, "payment sandbox listening");
    let behaviour = Behaviour {
        slow: std::time::Duration::from_millis(
            std::env::var("SANDBOX_SLOW_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(3_000),
        ),
        ..Behaviour::default()
    };
    let state = AppState {
        db,
        secret_key,
        behaviour,
    };
    serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
