//! Starting one test's Courier: fresh databases, the payment sandbox, a worker on its own task
//! queue and the API, against the peers `scripts/test` started; restarting its parts.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, bail};
use courier_activities::notifications::email::{SmtpConfig, SmtpTls};
use courier_activities::notifications::twilio::TwilioConfig;
use courier_activities::payment_client::PaymentProviderConfig;
use courier_api::{ApiSettings, AppState};
use courier_worker::{NotificationSettings, WorkerSettings};
use courier_workflows::order::SagaPolicy;
use smtp_gate::SmtpGate;
use sqlx::{Connection, PgPool};
use temporalio_client::{
    Client, ClientOptions, Connection as TemporalConnection, ConnectionOptions,
};
use tokio::sync::oneshot;
use twilio_proxy::TwilioProxy;

use crate::*;

fn admin_url() -> String {
    std::env::var("COURIER_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://courier:courier@127.0.0.1:5433/postgres".to_owned())
}

fn temporal_url() -> String {
    std::env::var("TEMPORAL_ADDRESS").unwrap_or_else(|_| "127.0.0.1:7233".to_owned())
}

/// Creates an empty database named after the test run and returns a pool on it.
async fn fresh_database(prefix: &str) -> anyhow::Result<PgPool> {
    let admin = admin_url();
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .context("connecting to Postgres (did scripts/setup run?)")?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    let url = match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => bail!("COURIER_TEST_DATABASE_URL has no database part"),
    };
    Ok(sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect(&url)
        .await?)
}

pub async fn temporal_client() -> anyhow::Result<Client> {
    temporal_client_at(&temporal_url()).await
}

/// A client of the Temporal server at `address` (`host:port` or a URL).
pub async fn temporal_client_at(address: &str) -> anyhow::Result<Client> {
    let address = if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    };
    let url: temporalio_client::Url = address.parse().context("a Temporal address")?;
    let connection = TemporalConnection::connect(ConnectionOptions::new(url).build())
        .await
        .context("connecting to Temporal (did scripts/setup run?)")?;
    Ok(Client::new(
        connection,
        ClientOptions::new("default").build(),
    )?)
}

/// A running worker on its own thread (its future is not `Send`), stopped on drop.
pub struct WorkerHandle {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl WorkerHandle {
    /// Runs a worker on a runtime of its own, with a pool of its own on `db`'s database: a
    /// connection opened on the worker's runtime dies with it, so sharing the test's pool would
    /// hand the test (and the API) dead connections after a restart.
    pub fn start(settings: WorkerSettings, db: PgPool) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let options = db.connect_options().as_ref().clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let db = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(10)
                    .connect_with(options)
                    .await?;
                let client = temporal_client().await?;
                courier_worker::run_worker(client, settings, db, None, async {
                    let _ = stopped.await;
                })
                .await
            })
        });
        Self {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops polling, lets running tasks finish, and waits for the thread.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.signal();
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => bail!("the worker thread panicked"),
            None => Ok(()),
        }
    }

    fn signal(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.signal();
    }
}

/// The notification peers `scripts/test` started: Prism (Twilio) and Mailpit (SMTP + API).
struct Peers {
    prism: Option<String>,
    smtp_port: Option<u16>,
    mailpit: Option<String>,
}

impl Peers {
    fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            prism: var("COURIER_TEST_TWILIO_URL"),
            smtp_port: var("COURIER_TEST_SMTP_PORT").and_then(|p| p.parse().ok()),
            mailpit: var("COURIER_TEST_MAILPIT_URL"),
        }
    }
}

/// Knobs a test may turn before its Courier starts.
#[derive(Clone)]
pub struct TestOptions {
    pub saga: SagaPolicy,
    pub payment_wait: Duration,
    /// How long the sandbox's slow card takes.
    pub slow_card_delay: Duration,
    /// Whether Twilio credentials are configured (without them SMS are logged as skipped).
    pub twilio: bool,
    /// Whether an SMTP server is configured.
    pub smtp: bool,
    /// How long `POST /orders` waits for Temporal to confirm an order's workflow started.
    pub start_timeout: Duration,
    /// How long an `Idempotency-Key` is kept.
    pub idempotency_key_ttl: Duration,
    /// The per-customer limit on placements (off unless a test is about it).
    pub order_rate: Option<courier_api::rate_limit::OrderRateLimit>,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            saga: SagaPolicy {
                activity_timeout_secs: 10,
                initial_retry_interval_ms: 100,
                max_retry_interval_secs: 1,
                delivery_fee_minor: DELIVERY_FEE,
                shop_accept_timeout_secs: 120,
                dispatch_timeout_secs: 60,
                payment_deadline_secs: 120,
                compensation_attempts: 3,
                payout_attempts: 3,
                ready_timeout_secs: 120,
                pickup_timeout_secs: 120,
                delivery_timeout_secs: 120,
                notification_max_retry_interval_secs: 1,
                notification_give_up_after_secs: 120,
            },
            payment_wait: Duration::from_secs(20),
            slow_card_delay: Duration::from_secs(3),
            twilio: true,
            smtp: true,
            start_timeout: Duration::from_secs(5),
            idempotency_key_ttl: Duration::from_secs(3600),
            order_rate: None,
        }
    }
}

type ApiServer = (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
);

/// Serves the API on a free port until its sender fires (or is dropped).
async fn start_api(state: AppState) -> anyhow::Result<(String, ApiServer)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(courier_api::serve(listener, state, async {
        let _ = stopped.await;
    }));
    Ok((url, (stop, task)))
}

async fn serve_on_port_0<F, Fut>(serve: F) -> anyhow::Result<String>
where
    F: FnOnce(tokio::net::TcpListener) -> Fut,
    Fut: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(serve(listener));
    Ok(url)
}

impl TestApp {
    pub async fn spawn() -> anyhow::Result<Self> {
        Self::spawn_with(TestOptions::default()).await
    }

    pub async fn spawn_with(options: TestOptions) -> anyhow::Result<Self> {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("TEST_LOG")
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_test_writer()
            .try_init();
        let (stop_servers, stopped) = oneshot::channel::<()>();
        let stopped = futures_shared(stopped);

        let sandbox_db = fresh_database("payments_t").await?;
        payment_sandbox::migrate(&sandbox_db).await?;
        let sandbox_state = payment_sandbox::AppState {
            db: sandbox_db.clone(),
            secret_key: SANDBOX_KEY.to_owned(),
            behaviour: payment_sandbox::Behaviour {
                slow: options.slow_card_delay,
                ..payment_sandbox::Behaviour::default()
            },
        };
        let stop = stopped.clone();
        let sandbox =
            serve_on_port_0(move |l| payment_sandbox::serve(l, sandbox_state, stop)).await?;

        let db = fresh_database("courier_t").await?;
        courier_runtime::migrate(&db).await?;
        let task_queue = format!("courier-test-{}", uuid::Uuid::new_v4().simple());
        let peers = Peers::from_env();
        let twilio = match (&peers.prism, options.twilio) {
            (Some(prism), true) => Some(TwilioProxy::start(prism.clone()).await?),
            _ => None,
        };
        let smtp = match (peers.smtp_port, options.smtp) {
            (Some(port), true) => Some(SmtpGate::start(port).await?),
            _ => None,
        };
        let notifications = NotificationSettings {
            twilio: twilio.as_ref().map(|proxy| TwilioConfig {
                base_url: proxy.url.clone(),
                account_sid: TWILIO_ACCOUNT_SID.to_owned(),
                auth_token: "test-auth-token".to_owned(),
                sender: TWILIO_FROM.to_owned(),
                timeout: Duration::from_secs(5),
            }),
            smtp: smtp.as_ref().map(|gate| SmtpConfig {
                host: "127.0.0.1".to_owned(),
                port: gate.port,
                tls: SmtpTls::None,
                username: None,
                password: None,
                from: "Courier <no-reply@courier.test>"
                    .parse()
                    .expect("a mailbox"),
                timeout: Duration::from_secs(5),
            }),
            public_url: "http://courier.test".to_owned(),
            default_language: "en".to_owned(),
        };
        let payment_provider = PaymentProviderConfig {
            base_url: sandbox.clone(),
            secret_key: SANDBOX_KEY.to_owned(),
            timeout: Duration::from_secs(5),
        };
        let worker_settings = WorkerSettings {
            task_queue: task_queue.clone(),
            database_url: String::new(),
            db_max_connections: 10,
            payment: payment_provider.clone(),
            graceful_shutdown: Duration::from_secs(5),
            notifications,
            // Tests run the reconciliation on demand (`POST /admin/reconciliation/run`).
            reconcile_every: None,
            reconcile: test_reconcile_policy(),
        };
        let worker = WorkerHandle::start(worker_settings.clone(), db.clone());

        let temporal = temporal_client().await?;
        let api_state = AppState::new(
            db.clone(),
            temporal.clone(),
            ApiSettings {
                bind: String::new(),
                database_url: String::new(),
                task_queue: task_queue.clone(),
                start_timeout: options.start_timeout,
                payment_wait: options.payment_wait,
                idempotency_key_ttl: options.idempotency_key_ttl,
                reconcile: test_reconcile_policy(),
                saga: options.saga,
                auth: courier_api::auth::AuthSettings {
                    keys: Some(courier_api::auth::Keys::Secret(std::sync::Arc::new(
                        jsonwebtoken::DecodingKey::from_secret(JWT_SECRET.as_bytes()),
                    ))),
                    issuer: None,
                    operator_token: Some(OPERATOR_TOKEN.to_owned()),
                },
                temporal_ui_url: "http://127.0.0.1:8233".to_owned(),
                payment_provider,
                order_rate: options.order_rate,
            },
        );
        let (api, api_server) = start_api(api_state.clone()).await?;

        Ok(Self {
            api,
            sandbox,
            http: reqwest::Client::new(),
            db,
            sandbox_db,
            temporal,
            task_queue,
            worker: Some(worker),
            twilio,
            smtp,
            mailpit: peers.mailpit.unwrap_or_default(),
            worker_settings,
            _stop_servers: stop_servers,
            api_server: Some(api_server),
            api_state,
        })
    }

    /// The notification channels the worker sends through (the Twilio proxy, the SMTP gate).
    pub fn notification_channels(
        &self,
    ) -> anyhow::Result<courier_activities::notifications::NotificationChannels> {
        self.worker_settings.notifications.channels()
    }

    /// Stops the API gracefully (requests in flight finish) and starts a new one, on a new port.
    pub async fn restart_api(&mut self) -> anyhow::Result<()> {
        if let Some((stop, task)) = self.api_server.take() {
            let _ = stop.send(());
            task.await??;
        }
        let (api, server) = start_api(self.api_state.clone()).await?;
        self.api = api;
        self.api_server = Some(server);
        Ok(())
    }

    /// Stops the worker gracefully and starts a new one, without blocking this test's runtime.
    pub async fn restart_worker_gracefully(&mut self) -> anyhow::Result<()> {
        if let Some(worker) = self.worker.take() {
            tokio::task::spawn_blocking(move || worker.stop()).await??;
        }
        self.worker = Some(WorkerHandle::start(
            self.worker_settings.clone(),
            self.db.clone(),
        ));
        Ok(())
    }

    /// Stops the worker (if running) and starts a new one on the same task queue.
    pub fn restart_worker(&mut self) -> anyhow::Result<()> {
        if let Some(worker) = self.worker.take() {
            worker.stop()?;
        }
        self.worker = Some(WorkerHandle::start(
            self.worker_settings.clone(),
            self.db.clone(),
        ));
        Ok(())
    }

    /// Stops the worker (no order makes progress until [`Self::start_worker`]).
    pub async fn stop_worker(&mut self) -> anyhow::Result<()> {
        if let Some(worker) = self.worker.take() {
            tokio::task::spawn_blocking(move || worker.stop()).await??;
        }
        Ok(())
    }

    /// Starts a worker on the test's task queue if none runs.
    pub fn start_worker(&mut self) {
        if self.worker.is_none() {
            self.worker = Some(WorkerHandle::start(
                self.worker_settings.clone(),
                self.db.clone(),
            ));
        }
    }
}

/// Reconciliation in tests: every order that ended counts as settled at once.
fn test_reconcile_policy() -> courier_workflows::reconciliation_workflow::ReconcilePolicy {
    courier_workflows::reconciliation_workflow::ReconcilePolicy {
        scope: courier_workflows::contracts::ReconcileScope {
            grace_secs: 0,
            lookback_secs: 3600,
        },
        activity_timeout_secs: 10,
        repair_attempts: 3,
    }
}

fn futures_shared(rx: oneshot::Receiver<()>) -> impl Future<Output = ()> + Clone + Send + 'static {
    use futures::FutureExt;
    rx.map(|_| ()).shared()
}
