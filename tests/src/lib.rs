//! The end-to-end harness: every test gets its own Courier against real servers.
//!
//! [`TestApp::spawn`] creates two fresh Postgres databases (Courier's and the payment sandbox's),
//! starts the payment sandbox and the API on `127.0.0.1:0`, and runs a real worker on its own task
//! queue against the Temporal dev server that `scripts/test` started (`TEMPORAL_ADDRESS`). Nothing
//! is mocked. Waiting is always for a condition, with a deadline.

pub mod smtp_gate;
pub mod supervisor;
pub mod twilio_proxy;

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, bail};
use courier_activities::notifications::email::{SmtpConfig, SmtpTls};
use courier_activities::notifications::twilio::TwilioConfig;
use courier_activities::payment_client::PaymentProviderConfig;
use courier_api::{ApiSettings, AppState};
use courier_worker::{NotificationSettings, WorkerSettings};
use courier_workflows::order::SagaPolicy;
use reqwest::StatusCode;
use serde_json::{Value, json};
use smtp_gate::SmtpGate;
use sqlx::{Connection, PgPool};
use temporalio_client::{
    Client, ClientOptions, Connection as TemporalConnection, ConnectionOptions,
};
use tokio::sync::oneshot;
use twilio_proxy::TwilioProxy;

pub const SANDBOX_KEY: &str = "sk_test_e2e";
pub const DELIVERY_FEE: i64 = 3_000;
pub const GOOD_CARD: &str = "4242424242424242";
pub const DECLINED_CARD: &str = "4000000000000002";
/// The sandbox card that answers after [`TestOptions::slow_card_delay`].
pub const SLOW_CARD: &str = "4000000000006975";

/// How long a test waits for something that should happen in well under a second.
pub const DEADLINE: Duration = Duration::from_secs(30);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(25);

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
    pub fn start(settings: WorkerSettings, db: PgPool) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
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

/// One test's Courier.
pub struct TestApp {
    pub api: String,
    pub sandbox: String,
    pub http: reqwest::Client,
    pub db: PgPool,
    pub sandbox_db: PgPool,
    pub temporal: Client,
    pub task_queue: String,
    pub worker: Option<WorkerHandle>,
    /// Twilio as the worker sees it (Prism behind a recording, fault-injecting proxy).
    pub twilio: Option<TwilioProxy>,
    /// The SMTP server as the worker sees it (Mailpit behind a gate that can be closed).
    pub smtp: Option<SmtpGate>,
    /// Mailpit's API, to read what was received.
    pub mailpit: String,
    worker_settings: WorkerSettings,
    _stop_servers: oneshot::Sender<()>,
    /// The running API: what stops it gracefully, and its serving task.
    api_server: Option<(
        oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )>,
    api_state: AppState,
}

/// The operator token the test API accepts on `/admin`.
pub const OPERATOR_TOKEN: &str = "test-operator-token";

pub const TWILIO_ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TWILIO_FROM: &str = "+15005550006";

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

/// An email as Mailpit received it.
#[derive(Debug, Clone)]
pub struct ReceivedEmail {
    pub id: String,
    pub subject: String,
    pub to: Vec<String>,
    pub message_id: String,
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
        courier_activities::migrate(&db).await?;
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
        let worker_settings = WorkerSettings {
            task_queue: task_queue.clone(),
            database_url: String::new(),
            db_max_connections: 10,
            payment: PaymentProviderConfig {
                base_url: sandbox.clone(),
                secret_key: SANDBOX_KEY.to_owned(),
                timeout: Duration::from_secs(5),
            },
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
                operator_token: Some(OPERATOR_TOKEN.to_owned()),
                temporal_ui_url: "http://127.0.0.1:8233".to_owned(),
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

    /// Calls an `/admin` endpoint with the operator token.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(OPERATOR_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await?).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        let response = self.http.get(format!("{}{path}", self.api)).send().await?;
        read(response).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(StatusCode, Value)> {
        let response = self
            .http
            .post(format!("{}{path}", self.api))
            .json(body)
            .send()
            .await?;
        read(response).await
    }

    /// Posts raw bytes as JSON (for malformed-body tests).
    pub async fn post_raw(
        &self,
        path: &str,
        body: &'static str,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let response = self
            .http
            .post(format!("{}{path}", self.api))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        read(response).await
    }

    pub async fn place_order(&self, body: &Value) -> anyhow::Result<(StatusCode, Value)> {
        self.post("/orders", body).await
    }

    /// `POST /orders` with an `Idempotency-Key`, as an app that retries does.
    pub async fn place_with_key(
        &self,
        key: &str,
        body: &Value,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let response = self
            .http
            .post(format!("{}/orders", self.api))
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await?;
        read(response).await
    }

    pub async fn order(&self, order_id: &str) -> anyhow::Result<Value> {
        let (status, body) = self.get(&format!("/orders/{order_id}")).await?;
        if status != StatusCode::OK {
            bail!("GET /orders/{order_id} answered {status}: {body}");
        }
        Ok(body)
    }

    /// Polls the read model until `check` holds for the order, or fails at the deadline.
    pub async fn wait_for_order(
        &self,
        order_id: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let give_up = tokio::time::Instant::now() + DEADLINE;
        let mut tick = tokio::time::interval(POLL);
        loop {
            tick.tick().await;
            let (status, body) = self.get(&format!("/orders/{order_id}")).await?;
            if status == StatusCode::OK && check(&body) {
                return Ok(body);
            }
            if tokio::time::Instant::now() >= give_up {
                bail!("order {order_id} never reached {what}; last seen: {status} {body}");
            }
        }
    }

    pub async fn wait_for_status(&self, order_id: &str, status: &str) -> anyhow::Result<Value> {
        self.wait_for_order(order_id, status, |o| o["status"] == status)
            .await
    }

    /// The pizzeria's action on an order (`accept`, `ready`), asserting it is allowed.
    pub async fn shop_action(&self, order_id: &str, action: &str) -> anyhow::Result<()> {
        let (status, body) = self
            .post(
                &format!("/shops/napoli-oven/orders/{order_id}/{action}"),
                &json!({}),
            )
            .await?;
        if status != StatusCode::OK {
            bail!("{action} answered {status}: {body}");
        }
        Ok(())
    }

    /// `POST /orders/{id}/cancel`.
    pub async fn cancel(
        &self,
        order_id: &str,
        reason: &str,
    ) -> anyhow::Result<(StatusCode, Value)> {
        self.post(
            &format!("/orders/{order_id}/cancel"),
            &json!({ "reason": reason }),
        )
        .await
    }

    /// Every rider is out on other deliveries.
    pub async fn make_riders_busy(&self) -> anyhow::Result<()> {
        sqlx::query("UPDATE dispatch.riders SET available = FALSE")
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Places the pizza order with a good card and returns its id (asserting `201`).
    pub async fn paid_order(&self, customer_id: &str) -> anyhow::Result<String> {
        self.paid_order_with(&pizza_order(customer_id, GOOD_CARD))
            .await
    }

    /// Places `order`, asserting it is paid (`201`), and returns its id.
    pub async fn paid_order_with(&self, order: &Value) -> anyhow::Result<String> {
        let (status, body) = self.place_order(order).await?;
        if status != StatusCode::CREATED {
            bail!("POST /orders answered {status}: {body}");
        }
        Ok(body["order_id"].as_str().unwrap_or_default().to_owned())
    }

    /// The statuses of an order's timeline, in order.
    pub fn timeline(order: &Value) -> Vec<String> {
        order["timeline"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["status"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// `(kind, amount)` of the ledger entries that succeeded for an order.
    pub async fn money_moved(&self, order_id: &str) -> anyhow::Result<Vec<(String, i64)>> {
        Ok(self
            .ledger(order_id)
            .await?
            .iter()
            .filter(|e| e["status"] == "succeeded")
            .map(|e| {
                (
                    e["kind"].as_str().unwrap_or_default().to_owned(),
                    e["amount"].as_i64().unwrap_or_default(),
                )
            })
            .collect())
    }

    /// The amounts of one kind of ledger entry (`charge`, `refund`, `payout`) that succeeded.
    pub async fn amounts(&self, order_id: &str, kind: &str) -> anyhow::Result<Vec<i64>> {
        Ok(self
            .money_moved(order_id)
            .await?
            .into_iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, amount)| amount)
            .collect())
    }

    /// A paid pizza order the shop accepted and cooked, with its rider: `(order_id, rider_id)`.
    pub async fn ready_order_with_rider(
        &self,
        customer_id: &str,
    ) -> anyhow::Result<(String, String)> {
        let id = self.paid_order(customer_id).await?;
        self.shop_action(&id, "accept").await?;
        self.shop_action(&id, "ready").await?;
        let order = self
            .wait_for_order(&id, "a rider", |o| o["rider"].is_object())
            .await?;
        let rider = order["rider"]["rider_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Ok((id, rider))
    }

    /// The rider picks the order up and delivers it (asserting both are allowed).
    pub async fn pickup_and_deliver(&self, order_id: &str) -> anyhow::Result<()> {
        for step in ["pickup", "deliver"] {
            let (status, body) = self
                .post(&format!("/deliveries/{order_id}/{step}"), &json!({}))
                .await?;
            if status != StatusCode::OK {
                bail!("{step} answered {status}: {body}");
            }
        }
        Ok(())
    }

    /// Whether the order's workflow has an attempt of `activity` running on a worker right now.
    pub async fn activity_running(&self, order_id: &str, activity: &str) -> anyhow::Result<bool> {
        use temporalio_common::protos::temporal::api::enums::v1::PendingActivityState;
        self.pending_activity(order_id, activity, |state| {
            state == PendingActivityState::Started
        })
        .await
    }

    /// Whether the order's workflow waits on `activity` (running, or between attempts).
    pub async fn activity_pending(&self, order_id: &str, activity: &str) -> anyhow::Result<bool> {
        self.pending_activity(order_id, activity, |_| true).await
    }

    async fn pending_activity(
        &self,
        order_id: &str,
        activity: &str,
        state: impl Fn(
            temporalio_common::protos::temporal::api::enums::v1::PendingActivityState,
        ) -> bool,
    ) -> anyhow::Result<bool> {
        let description = self
            .temporal
            .get_workflow_handle::<courier_workflows::OrderWorkflow>(format!("order-{order_id}"))
            .describe(temporalio_client::WorkflowDescribeOptions::default())
            .await?;
        Ok(description
            .raw_description
            .pending_activities
            .iter()
            .any(|a| {
                a.activity_type.as_ref().is_some_and(|t| t.name == activity) && state(a.state())
            }))
    }

    /// Books something at the payment provider directly, as if behind Courier's back.
    pub async fn provider_post(
        &self,
        path: &str,
        idempotency_key: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.sandbox))
            .bearer_auth(SANDBOX_KEY)
            .header("Idempotency-Key", idempotency_key)
            .json(&body)
            .send()
            .await?;
        let (status, body) = read(response).await?;
        if !status.is_success() {
            bail!("the provider answered {status}: {body}");
        }
        Ok(body)
    }

    /// A plain-text GET (e.g. `/metrics`).
    pub async fn get_text(&self, path: &str) -> anyhow::Result<(StatusCode, String)> {
        let response = self.http.get(format!("{}{path}", self.api)).send().await?;
        Ok((response.status(), response.text().await?))
    }

    /// Takes the payment provider down (every request answers 503) or brings it back.
    pub async fn set_provider_down(&self, down: bool) -> anyhow::Result<()> {
        self.sandbox_switch("outage", json!({ "down": down })).await
    }

    /// Makes the provider refuse (or accept again) every rider payout.
    pub async fn set_payouts_declined(&self, declined: bool) -> anyhow::Result<()> {
        self.sandbox_switch("payouts", json!({ "declined": declined }))
            .await
    }

    async fn sandbox_switch(&self, switch: &str, body: Value) -> anyhow::Result<()> {
        let response = self
            .http
            .put(format!("{}/sandbox/{switch}", self.sandbox))
            .bearer_auth(SANDBOX_KEY)
            .json(&body)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!(
                "the sandbox refused the {switch} switch: {}",
                response.status()
            );
        }
        Ok(())
    }

    /// Sends a signal to the order's workflow, as an operator would from the Temporal UI.
    pub async fn signal_order<S>(&self, order_id: &str, signal: S, input: S::Input) -> anyhow::Result<()>
    where
        S: temporalio_common::SignalDefinition<
                Workflow = <courier_workflows::OrderWorkflow as temporalio_common::HasWorkflowDefinition>::Run,
            >,
        S::Input: Send,
    {
        self.temporal
            .get_workflow_handle::<courier_workflows::OrderWorkflow>(format!("order-{order_id}"))
            .signal(
                signal,
                input,
                temporalio_client::WorkflowSignalOptions::default(),
            )
            .await?;
        Ok(())
    }

    /// When `COURIER_RECORD_HISTORIES` names a folder, waits for the order's workflow to end and
    /// writes its history there as `{name}.json` (or `{name}-{n}.json` beside an older one), for
    /// the replay tests of `courier-workflows`.
    pub async fn record_history(&self, order_id: &str, name: &str) -> anyhow::Result<()> {
        let Ok(folder) = std::env::var("COURIER_RECORD_HISTORIES") else {
            return Ok(());
        };
        let handle = self
            .temporal
            .get_workflow_handle::<courier_workflows::OrderWorkflow>(format!("order-{order_id}"));
        handle
            .get_result(temporalio_client::WorkflowGetResultOptions::default())
            .await?;
        let json = handle
            .fetch_history(temporalio_client::WorkflowFetchHistoryOptions::default())
            .to_json()
            .await?;
        let folder = std::path::Path::new(&folder);
        std::fs::create_dir_all(folder)?;
        // Never overwrite: histories recorded by older code are what the replay test protects.
        let path = (0..)
            .map(|n| match n {
                0 => folder.join(format!("{name}.json")),
                n => folder.join(format!("{name}-{n}.json")),
            })
            .find(|path| !path.exists())
            .expect("a free file name");
        std::fs::write(path, json)?;
        Ok(())
    }

    /// Every email Mailpit received about an order (its id is in the subject), oldest first.
    pub async fn emails_for(&self, order_id: &str) -> anyhow::Result<Vec<ReceivedEmail>> {
        let list: Value = self
            .http
            .get(format!("{}/api/v1/messages", self.mailpit))
            .query(&[("limit", "5000")])
            .send()
            .await?
            .json()
            .await?;
        let mut found: Vec<ReceivedEmail> = list["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["Subject"].as_str().is_some_and(|s| s.contains(order_id)))
            .map(|m| ReceivedEmail {
                id: m["ID"].as_str().unwrap_or_default().to_owned(),
                subject: m["Subject"].as_str().unwrap_or_default().to_owned(),
                to: m["To"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t["Address"].as_str().map(str::to_owned))
                    .collect(),
                message_id: m["MessageID"].as_str().unwrap_or_default().to_owned(),
            })
            .collect();
        found.reverse();
        Ok(found)
    }

    /// One received email in full (`Text`, `HTML`, headers...), as Mailpit's API gives it.
    pub async fn email(&self, id: &str) -> anyhow::Result<Value> {
        Ok(self
            .http
            .get(format!("{}/api/v1/message/{id}", self.mailpit))
            .send()
            .await?
            .json()
            .await?)
    }

    /// The order's notification log, through the API.
    pub async fn notification_log(&self, order_id: &str) -> anyhow::Result<Vec<Value>> {
        let (status, body) = self
            .get(&format!("/orders/{order_id}/notifications"))
            .await?;
        if status != StatusCode::OK {
            bail!("GET /orders/{order_id}/notifications answered {status}: {body}");
        }
        Ok(body["notifications"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// The payment sandbox's ledger entries for an order.
    pub async fn ledger(&self, order_id: &str) -> anyhow::Result<Vec<Value>> {
        let response = self
            .http
            .get(format!("{}/v1/ledger", self.sandbox))
            .query(&[("reference", order_id)])
            .bearer_auth(SANDBOX_KEY)
            .send()
            .await?;
        let (_, body) = read(response).await?;
        Ok(body["entries"].as_array().cloned().unwrap_or_default())
    }

    pub async fn stock(&self, menu_item_id: &str) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT on_hand FROM stock.levels WHERE menu_item_id = $1")
                .bind(menu_item_id)
                .fetch_one(&self.db)
                .await?,
        )
    }

    pub async fn set_stock(&self, menu_item_id: &str, on_hand: i64) -> anyhow::Result<()> {
        sqlx::query("UPDATE stock.levels SET on_hand = $2 WHERE menu_item_id = $1")
            .bind(menu_item_id)
            .bind(on_hand)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// `(status, channel)` of every notification recorded for the order's customer.
    pub async fn notifications(&self, order_id: &str) -> anyhow::Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT status, channel FROM notifications.messages WHERE order_id = $1::uuid \
               AND audience = 'customer' ORDER BY created_at, channel",
        )
        .bind(order_id)
        .fetch_all(&self.db)
        .await?)
    }

    pub async fn rider_available(&self, rider_id: &str) -> anyhow::Result<bool> {
        Ok(
            sqlx::query_scalar("SELECT available FROM dispatch.riders WHERE rider_id = $1")
                .bind(rider_id)
                .fetch_one(&self.db)
                .await?,
        )
    }

    pub async fn count(&self, sql: &str, order_id: &str) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar(sql)
            .bind(order_id)
            .fetch_one(&self.db)
            .await?)
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

/// Calls `check` until it says yes or `deadline` passes; polls briskly, never sleeps blindly.
pub async fn wait_until<F, Fut>(deadline: Duration, mut check: F) -> anyhow::Result<bool>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let give_up = tokio::time::Instant::now() + deadline;
    let mut tick = tokio::time::interval(POLL);
    loop {
        tick.tick().await;
        if check().await? {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= give_up {
            return Ok(false);
        }
    }
}

async fn read(response: reqwest::Response) -> anyhow::Result<(StatusCode, Value)> {
    let status = response.status();
    let text = response.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .with_context(|| format!("a non-JSON answer ({status}): {text}"))?
    };
    Ok((status, body))
}

/// A valid order for the pizzeria: two margheritas and a cola.
pub fn pizza_order(customer_id: &str, card: &str) -> Value {
    json!({
        "customer_id": customer_id,
        "shop_id": "napoli-oven",
        "items": [
            { "menu_item_id": "margherita", "quantity": 2 },
            { "menu_item_id": "cola-500", "quantity": 1 }
        ],
        "delivery_address": "101-1203, 25 Olympic-ro, Songpa-gu, Seoul",
        "phone": "+821012345678",
        "email": "minji@example.kr",
        "payment": { "card_number": card }
    })
}

/// Two margheritas (18,900) and a cola (2,500).
pub const PIZZA_ORDER_TOTAL: i64 = 2 * 18_900 + 2_500;

fn futures_shared(rx: oneshot::Receiver<()>) -> impl Future<Output = ()> + Clone + Send + 'static {
    use futures::FutureExt;
    rx.map(|_| ()).shared()
}
