//! Courier's worker: hosts the order workflow and every activity on one Temporal task queue.
//!
//! It owns no business logic: the saga lives in `courier-workflows`, the effects in
//! `courier-activities`. This crate wires them to Postgres, the payment provider and Temporal, and
//! runs until asked to shut down, handing unfinished tasks back to the server.

pub mod failures;
pub mod ops;
pub mod spans;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use courier_activities::dispatch::DispatchActivities;
use courier_activities::notifications::email::{EmailSender, SmtpConfig, SmtpTls};
use courier_activities::notifications::outbox::{Dispatcher, OutboxSettings};
use courier_activities::notifications::twilio::{TwilioClient, TwilioConfig};
use courier_activities::notifications::{NotificationActivities, NotificationChannels};
use courier_activities::payment::PaymentActivities;
use courier_activities::payment_client::{PaymentClient, PaymentProviderConfig};
use courier_activities::read_model::ReadModelActivities;
use courier_activities::reconciliation::ReconciliationActivities;
use courier_activities::shop_board::ShopBoardActivities;
use courier_activities::status::StatusActivities;
use courier_activities::stock::StockActivities;
use courier_runtime::settings::{
    DEFAULT_DATABASE_URL, DEFAULT_TASK_QUEUE, env_number, env_or, secret, secret_or,
};
use courier_workflows::reconciliation_workflow::ReconcilePolicy;
use courier_workflows::{
    NotificationWorkflow, OrderCompensationWorkflow, OrderWorkflow, ReconciliationWorkflow,
};
use sqlx::PgPool;
use temporalio_client::Client;
use temporalio_common::telemetry::TelemetryOptions;
use temporalio_common::telemetry::metrics::CoreMeter;
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
    pub notifications: NotificationSettings,
    /// How often the reconciliation schedule runs (`None`: the worker creates no schedule).
    pub reconcile_every: Option<Duration>,
    pub reconcile: ReconcilePolicy,
}

/// Where notifications go. With no Twilio credentials (or no SMTP host) that channel is logged as
/// skipped rather than sent.
#[derive(Debug, Clone)]
pub struct NotificationSettings {
    pub twilio: Option<TwilioConfig>,
    pub smtp: Option<SmtpConfig>,
    pub public_url: String,
    pub default_language: String,
}

impl NotificationSettings {
    pub fn from_env() -> anyhow::Result<Self> {
        let twilio = match (secret("TWILIO_ACCOUNT_SID")?, secret("TWILIO_AUTH_TOKEN")?) {
            (Some(account_sid), Some(auth_token)) => Some(TwilioConfig {
                base_url: env_or("TWILIO_BASE_URL", "https://api.twilio.com"),
                account_sid,
                auth_token,
                sender: std::env::var("TWILIO_FROM")
                    .or_else(|_| std::env::var("TWILIO_MESSAGING_SERVICE_SID"))
                    .map_err(|_| {
                        anyhow::anyhow!("TWILIO_FROM (or TWILIO_MESSAGING_SERVICE_SID) is required with Twilio credentials")
                    })?,
                timeout: Duration::from_secs(env_number("TWILIO_TIMEOUT_SECS", 10)?),
            }),
            _ => None,
        };
        let smtp = match std::env::var("SMTP_HOST").ok().filter(|h| !h.is_empty()) {
            None => None,
            Some(host) => {
                let tls = SmtpTls::parse(&env_or("SMTP_TLS", "starttls"))
                    .ok_or_else(|| anyhow::anyhow!("SMTP_TLS must be none, starttls or tls"))?;
                let default_port = match tls {
                    SmtpTls::None => 25,
                    SmtpTls::StartTls => 587,
                    SmtpTls::Tls => 465,
                };
                Some(SmtpConfig {
                    host,
                    port: env_number("SMTP_PORT", default_port)?,
                    tls,
                    username: secret("SMTP_USERNAME")?,
                    password: secret("SMTP_PASSWORD")?,
                    from: env_or("SMTP_FROM", "Courier <no-reply@courier.example>")
                        .parse()
                        .context(
                            "SMTP_FROM must be a mailbox like `Courier <no-reply@example.com>`",
                        )?,
                    timeout: Duration::from_secs(env_number("SMTP_TIMEOUT_SECS", 10)?),
                })
            }
        };
        let default_language = env_or("COURIER_DEFAULT_LANGUAGE", "ko");
        anyhow::ensure!(
            ["ko", "en"].contains(&default_language.as_str()),
            "COURIER_DEFAULT_LANGUAGE must be ko or en"
        );
        Ok(Self {
            twilio,
            smtp,
            public_url: env_or("COURIER_PUBLIC_URL", "http://127.0.0.1:8080"),
            default_language,
        })
    }

    pub fn channels(&self) -> anyhow::Result<NotificationChannels> {
        Ok(NotificationChannels {
            sms: self.twilio.clone().map(TwilioClient::new).transpose()?,
            email: self
                .smtp
                .as_ref()
                .map(EmailSender::new)
                .transpose()
                .context("configuring SMTP")?,
            public_url: self.public_url.clone(),
            default_language: self.default_language.clone(),
        })
    }
}

impl WorkerSettings {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            task_queue: env_or("COURIER_TASK_QUEUE", DEFAULT_TASK_QUEUE),
            database_url: secret_or("DATABASE_URL", DEFAULT_DATABASE_URL)?,
            db_max_connections: env_number("COURIER_DB_MAX_CONNECTIONS", 20)?,
            payment: PaymentProviderConfig::from_env()?,
            graceful_shutdown: Duration::from_secs(env_number("COURIER_WORKER_SHUTDOWN_SECS", 20)?),
            notifications: NotificationSettings::from_env()?,
            reconcile_every: Some(Duration::from_secs(env_number(
                "COURIER_RECONCILE_EVERY_SECS",
                300,
            )?))
            .filter(|every| !every.is_zero()),
            reconcile: courier_runtime::settings::reconcile_policy()?,
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
    courier_runtime::migrate(&db)
        .await
        .context("migrating Courier's database")?;
    Ok(db)
}

/// The worker's registrations: the order workflow and every activity it schedules.
pub fn worker_options(
    settings: &WorkerSettings,
    db: PgPool,
    channels: NotificationChannels,
) -> anyhow::Result<WorkerOptions> {
    let provider = PaymentClient::new(settings.payment.clone())?;
    Ok(WorkerOptions::new(settings.task_queue.clone())
        .register_workflow::<OrderWorkflow>()?
        .register_workflow::<NotificationWorkflow>()?
        .register_workflow::<OrderCompensationWorkflow>()?
        .register_workflow::<ReconciliationWorkflow>()?
        .register_activities(ReconciliationActivities {
            db: db.clone(),
            provider: provider.clone(),
        })
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
        .register_activities(StatusActivities {
            db: db.clone(),
            channels: channels.clone(),
        })
        .register_activities(NotificationActivities {
            db: db.clone(),
            channels,
        })
        .activity_inbound_interceptor(spans::OrderSpans)
        .activity_inbound_interceptor(failures::StepFailures(failures::FailureLog::new(
            db.clone(),
        )))
        .worker_interceptor(failures::WorkflowTaskFailures::new(
            failures::FailureLog::new(db),
        ))
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
    metrics: Option<Arc<dyn CoreMeter>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let options = RuntimeOptions::builder()
        .telemetry_options(TelemetryOptions::builder().maybe_metrics(metrics).build())
        .build()
        .map_err(|e| anyhow::anyhow!("runtime options: {e}"))?;
    let runtime = Runtime::from_current_tokio(options)?;
    if let Some(every) = settings.reconcile_every {
        ensure_reconciliation_schedule(&client, &settings, every).await?;
    }
    let channels = settings.notifications.channels()?;
    let outbox = Dispatcher {
        sender: Arc::new(NotificationActivities {
            db: db.clone(),
            channels: channels.clone(),
        }),
        settings: OutboxSettings::default(),
    };
    let mut worker = Worker::new(&runtime, client, worker_options(&settings, db, channels)?)?;
    let stop = worker.shutdown_handle();
    let (outbox_stop, mut outbox_stopped) = tokio::sync::watch::channel(false);
    let stop_outbox = outbox_stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        stop();
        let _ = stop_outbox.send(true);
    });
    let outbox = tokio::spawn(outbox.run(async move {
        let _ = outbox_stopped.wait_for(|stopped| *stopped).await;
    }));
    tracing::info!(task_queue = %settings.task_queue, "worker polling");
    let result = worker.run().await;
    // The dispatcher stops with the worker (also when the worker fails on its own), once the
    // messages it is sending are settled; a row cut short is taken again when its lease passes.
    let _ = outbox_stop.send(true);
    if tokio::time::timeout(settings.graceful_shutdown, outbox)
        .await
        .is_err()
    {
        tracing::warn!("the outbox did not stop within the graceful period");
    }
    result?;
    tracing::info!("worker stopped");
    Ok(())
}

/// The id of the reconciliation schedule of a task queue.
pub fn reconciliation_schedule_id(task_queue: &str) -> String {
    format!("reconcile-{task_queue}")
}

/// Creates the schedule that runs the reconciliation every `every`, unless it exists (every worker
/// of the task queue asks; the first creates it). Overlapping runs are skipped.
async fn ensure_reconciliation_schedule(
    client: &Client,
    settings: &WorkerSettings,
    every: Duration,
) -> anyhow::Result<()> {
    use temporalio_client::schedules::{
        CreateScheduleOptions, ScheduleAction, ScheduleError, ScheduleOverlapPolicy, ScheduleSpec,
    };
    let id = reconciliation_schedule_id(&settings.task_queue);
    let created = client
        .create_schedule(
            id.clone(),
            CreateScheduleOptions::builder()
                .action(ScheduleAction::start_workflow(
                    ReconciliationWorkflow::run,
                    settings.reconcile.clone(),
                    settings.task_queue.clone(),
                    id.clone(),
                ))
                .spec(ScheduleSpec::from_interval(every))
                .overlap_policy(ScheduleOverlapPolicy::Skip)
                .build(),
        )
        .await;
    match created {
        Ok(_) => {
            tracing::info!(schedule = %id, every = ?every, "reconciliation scheduled");
            Ok(())
        }
        Err(ScheduleError::Rpc(status))
            if status.code() == temporalio_client::tonic::Code::AlreadyExists =>
        {
            Ok(())
        }
        Err(err) => Err(anyhow::anyhow!(
            "creating the reconciliation schedule: {err}"
        )),
    }
}
