//! Courier's worker: hosts the order workflow and every activity on one Temporal task queue.
//!
//! It owns no business logic: the saga lives in `courier-workflows`, the effects in
//! `courier-activities`. This crate wires them to Postgres, the payment provider and Temporal, and
//! runs until asked to shut down, handing unfinished tasks back to the server.

use std::time::Duration;

use anyhow::Context;
use courier_activities::dispatch::DispatchActivities;
use courier_activities::notifications::NotificationActivities;
use courier_activities::payment::PaymentActivities;
use courier_activities::payment_client::{PaymentClient, PaymentProviderConfig};
use courier_activities::read_model::ReadModelActivities;
use courier_activities::shop_board::ShopBoardActivities;
use courier_activities::stock::StockActivities;
use courier_workflows::OrderWorkflow;
use sqlx::PgPool;
use temporalio_client::Client;
use temporalio_sdk::runtime::RuntimeOptions;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

/// The worker's settings, from the environment (see the README for defaults).
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub task_queue: String,
    pub database_url: String,
    pub db_max_connections: u32,
    pub payment: PaymentProviderConfig,
    /// How long a shutdown waits for running activities before handing them back.
    pub graceful_shutdown: Duration,
}

pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name).ok().filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("{name} must be a number, got {v:?}")),
    }
}

pub const DEFAULT_DATABASE_URL: &str = "postgres://courier:courier@127.0.0.1:5433/courier";
pub const DEFAULT_TASK_QUEUE: &str = "courier-orders";

impl WorkerSettings {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            task_queue: env_or("COURIER_TASK_QUEUE", DEFAULT_TASK_QUEUE),
            database_url: env_or("DATABASE_URL", DEFAULT_DATABASE_URL),
            db_max_connections: env_number("COURIER_DB_MAX_CONNECTIONS", 20)?,
            payment: PaymentProviderConfig {
                base_url: env_or("PAYMENT_PROVIDER_URL", "http://127.0.0.1:8091"),
                secret_key: env_or("PAYMENT_PROVIDER_KEY", "sk_test_courier"),
                timeout: Duration::from_secs(env_number("PAYMENT_PROVIDER_TIMEOUT_SECS", 10)?),
            },
            graceful_shutdown: Duration::from_secs(env_number("COURIER_WORKER_SHUTDOWN_SECS", 20)?),
        })
    }
}

/// Connects to Courier's database and applies its migrations.
pub async fn connect_db(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(max_connections)
        .connect(url)
        .await
        .context("connecting to Courier's database")?;
    courier_activities::migrate(&db)
        .await
        .context("migrating Courier's database")?;
    Ok(db)
}

/// The worker's registrations: the order workflow and every activity it schedules.
pub fn worker_options(settings: &WorkerSettings, db: PgPool) -> anyhow::Result<WorkerOptions> {
    let provider = PaymentClient::new(settings.payment.clone())?;
    Ok(WorkerOptions::new(settings.task_queue.clone())
        .register_workflow::<OrderWorkflow>()?
        .register_activities(StockActivities { db: db.clone() })
        .register_activities(PaymentActivities {
            provider: provider.clone(),
        })
        .register_activities(ShopBoardActivities { db: db.clone() })
        .register_activities(DispatchActivities {
            db: db.clone(),
            provider,
        })
        .register_activities(ReadModelActivities { db: db.clone() })
        .register_activities(NotificationActivities { db })
        .graceful_shutdown_period(settings.graceful_shutdown)
        .build())
}

/// Polls the task queue until `shutdown` resolves, then lets running tasks finish (up to the
/// graceful period) and returns. The worker's future is not `Send`: run it on a task of its own
/// (`block_on` in `main`, or a thread with a current-thread runtime).
pub async fn run_worker(
    client: Client,
    settings: WorkerSettings,
    db: PgPool,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let options = RuntimeOptions::builder()
        .build()
        .map_err(|e| anyhow::anyhow!("runtime options: {e}"))?;
    let runtime = Runtime::from_current_tokio(options)?;
    let mut worker = Worker::new(&runtime, client, worker_options(&settings, db)?)?;
    let stop = worker.shutdown_handle();
    tokio::spawn(async move {
        shutdown.await;
        stop();
    });
    tracing::info!(task_queue = %settings.task_queue, "worker polling");
    worker.run().await?;
    tracing::info!("worker stopped");
    Ok(())
}
