//! `payment-sandbox`: runs the sandbox card provider.
//!
//! Environment: `SANDBOX_DATABASE_URL` (its own database), `SANDBOX_ADDR` (default
//! `127.0.0.1:8091`), `SANDBOX_SECRET_KEY` (default `sk_test_courier`), `SANDBOX_SLOW_MS`. The
//! database URL and the key may come from files instead (`SANDBOX_DATABASE_URL_FILE`, ...).

use anyhow::Context;
use payment_sandbox::{AppState, Behaviour, migrate, serve};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let database_url = setting(
        "SANDBOX_DATABASE_URL",
        "postgres://courier:courier@127.0.0.1:5433/courier_payments",
    )?;
    let addr = std::env::var("SANDBOX_ADDR").unwrap_or_else(|_| "127.0.0.1:8091".to_owned());
    let secret_key = setting("SANDBOX_SECRET_KEY", "sk_test_courier")?;
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

/// `NAME`, or the content of the file `NAME_FILE` names, or `default`.
fn setting(name: &str, default: &str) -> anyhow::Result<String> {
    if let Ok(path) = std::env::var(format!("{name}_FILE")) {
        let value =
            std::fs::read_to_string(&path).with_context(|| format!("reading {name}_FILE"))?;
        return Ok(value.trim_end().to_owned());
    }
    Ok(std::env::var(name).unwrap_or_else(|_| default.to_owned()))
}
