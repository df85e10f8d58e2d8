//! The end-to-end harness: every test gets its own Courier against real servers.
//!
//! [`TestApp::spawn`] creates two fresh Postgres databases (Courier's and the payment sandbox's),
//! starts the payment sandbox and the API on `127.0.0.1:0`, and runs a real worker on its own task
//! queue against the Temporal dev server that `scripts/test` started (`TEMPORAL_ADDRESS`). Nothing
//! is mocked. Waiting is always for a condition, with a deadline.
//!
//! - `harness`: starting one test's Courier ([`TestOptions`]) and restarting its parts;
//! - `client`: talking to its API as a client does, and waiting for what it shows;
//! - `scenarios`: ready-made situations (a paid order, one ready with its rider, a provider in
//!   trouble);
//! - `peeks`: looking behind the API (the provider's ledger, Courier's tables, the workflow, the
//!   messages sent);
//! - [`browser`]: Chromium over WebDriver, for the web front end's tests;
//! - [`supervisor`]: the fault-injection suite's processes; `smtp_gate`, `twilio_proxy`: the
//!   notification peers as the worker sees them.

pub mod browser;
pub mod smtp_gate;
pub mod supervisor;
pub mod twilio_proxy;

mod client;
mod events;
mod harness;
mod peeks;
mod scenarios;

use std::time::Duration;

use courier_api::AppState;
use courier_worker::WorkerSettings;
use smtp_gate::SmtpGate;
use sqlx::PgPool;
use temporalio_client::Client;
use tokio::sync::oneshot;
use twilio_proxy::TwilioProxy;

pub use client::{poll_until, wait_until};
pub use events::EventStream;
pub use harness::{TestOptions, WorkerHandle, temporal_client, temporal_client_at};
pub use peeks::ReceivedEmail;
pub use scenarios::{PIZZA_ORDER_TOTAL, pizza_order};

pub const SANDBOX_KEY: &str = "sk_test_e2e";
pub const DELIVERY_FEE: i64 = 3_000;
pub const GOOD_CARD: &str = "4242424242424242";
pub const DECLINED_CARD: &str = "4000000000000002";
/// The sandbox card that answers after [`TestOptions::slow_card_delay`].
pub const SLOW_CARD: &str = "4000000000006975";

/// How long a test waits for something that should happen in well under a second.
pub const DEADLINE: Duration = Duration::from_secs(30);
/// How often a wait looks again.
pub(crate) const POLL: Duration = Duration::from_millis(25);

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

/// The static operator token the test API accepts (the development fallback).
pub const OPERATOR_TOKEN: &str = "test-operator-token";
/// The shared secret the test API verifies JWTs with, and the harness signs them with.
pub const JWT_SECRET: &str = "test-jwt-secret-for-courier-e2e-0123456789";

pub const TWILIO_ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TWILIO_FROM: &str = "+15005550006";
