//! The fault-injection suite: Courier's promise about money, proven by killing real processes.
//!
//! The worker, the API and the payment sandbox run as separate OS processes beside a Postgres
//! cluster and a Temporal dev server of the suite's own (state in a file). Concurrent clients
//! drive full order lifecycles through the API as a real app does (retrying with the same
//! `Idempotency-Key`, re-sending an action whose answer was lost), while the suite `SIGKILL`s the
//! worker several times, the API once, crashes and restarts Postgres, takes the provider down for
//! a while and kills and restarts the Temporal server on its database file. At the end, from the
//! provider's ledger and Courier's tables, every order must have: a final status; exactly one
//! charge if it was paid; a full refund if it was charged and not delivered; one payout if a rider
//! was dispatched; its stock and rider released; and a read model equal to its workflow's view.
//!
//! With `COURIER_FAULTS_CLUSTER=host:port` the same runs against Temporal's own server as a
//! cluster (`scripts/cluster start split`) instead of a dev server: two workers and two APIs, the
//! clients spread over both APIs; a worker is killed and kept down while the other carries on, and
//! the history service is killed with `SIGKILL` (`scripts/cluster kill history`) and restarted
//! while orders are in flight. The histories' worker identities show both workers ran orders.
//!
//! Size: `COURIER_FAULT_ORDERS` orders (default 40) from `COURIER_FAULT_CLIENTS` clients (default
//! 8); `COURIER_FAULTS_FULL=1` runs the full size, 300 orders from 16 clients. The one-line
//! summary is printed and written to `.data/logs/faults-summary.txt` (`faults-cluster-summary.txt`
//! for the cluster).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use courier_api::auth::Role;
use courier_tests::supervisor::{
    Postgres, Service, free_port, repo_root, temporal_dev_server, until,
};
use courier_tests::{DECLINED_CARD, GOOD_CARD, pizza_order, poll_until, wait_until};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use tokio::sync::Mutex;

const OPERATOR_TOKEN: &str = "faults-operator-token";
/// The APIs verify the clients' tokens with it; the clients sign their own with it.
const JWT_SECRET: &str = "faults-jwt-secret-0123456789-0123456789";
const SANDBOX_KEY: &str = "sk_test_faults";
const FINAL: [&str; 6] = [
    "DELIVERED",
    "CANCELLED",
    "REJECTED",
    "PAYMENT_DECLINED",
    "OUT_OF_STOCK",
    "PAYMENT_FAILED",
];
/// How long the whole run may take before it is a failure.
const RUN_DEADLINE: Duration = Duration::from_secs(900);

struct Size {
    orders: usize,
    clients: usize,
}

fn size() -> Size {
    let number = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    if std::env::var("COURIER_FAULTS_FULL").is_ok_and(|v| v == "1") {
        Size {
            orders: 300,
            clients: 16,
        }
    } else {
        Size {
            orders: number("COURIER_FAULT_ORDERS", 40),
            clients: number("COURIER_FAULT_CLIENTS", 8),
        }
    }
}

/// What a client does with its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Deliver,
    CancelBeforeAccept,
    CancelAfterAccept,
    Reject,
    Decline,
}

fn plan(i: usize) -> Plan {
    match i % 10 {
        0..=4 => Plan::Deliver,
        5 => Plan::CancelBeforeAccept,
        6 | 7 => Plan::CancelAfterAccept,
        8 => Plan::Reject,
        _ => Plan::Decline,
    }
}

/// Everything the suite runs, and what it did to it.
struct World {
    pg: Postgres,
    /// The suite's own dev server; `None` on the cluster.
    temporal: Option<Service>,
    temporal_address: String,
    sandbox: Service,
    workers: Vec<Service>,
    apis: Vec<Service>,
    courier_db: PgPool,
    payments_db: PgPool,
    outages: u32,
    history_kills: u32,
}

impl World {
    fn cluster(&self) -> bool {
        self.temporal.is_none()
    }
}

async fn start_world(dir: &std::path::Path, cluster: Option<String>) -> anyhow::Result<World> {
    let pg = Postgres::init(dir, free_port()?)?;
    pg.start()?;
    let admin = PgPool::connect(&pg.url("postgres")).await?;
    for db in ["courier", "payments"] {
        sqlx::query(&format!("CREATE DATABASE {db}"))
            .execute(&admin)
            .await?;
    }
    admin.close().await;
    let (temporal, temporal_address) = match cluster {
        Some(address) => (None, address),
        None => {
            let mut temporal = temporal_dev_server(dir, free_port()?)?;
            temporal.start().await?;
            let address = format!("127.0.0.1:{}", temporal.port);
            (Some(temporal), address)
        }
    };
    let replicas = if temporal.is_some() { 1 } else { 2 };
    // A task queue of this run's own: a cluster outlives runs.
    let task_queue = format!("courier-faults-{}", uuid::Uuid::new_v4().simple());

    let sandbox_port = free_port()?;
    let mut sandbox = Service::workspace_binary(
        "payment-sandbox",
        "payment-sandbox",
        sandbox_port,
        vars(&[
            ("SANDBOX_DATABASE_URL", &pg.url("payments")),
            ("SANDBOX_ADDR", &format!("127.0.0.1:{sandbox_port}")),
            ("SANDBOX_SECRET_KEY", SANDBOX_KEY),
        ]),
        dir,
    )?;
    sandbox.start().await?;

    let common = vars(&[
        ("DATABASE_URL", &pg.url("courier")),
        ("TEMPORAL_ADDRESS", &temporal_address),
        ("COURIER_TASK_QUEUE", &task_queue),
        ("RUST_LOG", "warn"),
        // The workers charge, refund and pay out; the APIs tokenize cards.
        (
            "PAYMENT_PROVIDER_URL",
            &format!("http://127.0.0.1:{sandbox_port}"),
        ),
        ("PAYMENT_PROVIDER_KEY", SANDBOX_KEY),
        ("PAYMENT_PROVIDER_TIMEOUT_SECS", "5"),
    ]);
    let mut workers = Vec::new();
    for name in ["courier-worker-a", "courier-worker-b"]
        .into_iter()
        .take(replicas)
    {
        let port = free_port()?;
        let mut env = common.clone();
        env.extend(vars(&[
            ("COURIER_WORKER_HTTP_ADDR", &format!("127.0.0.1:{port}")),
            ("COURIER_WORKER_SHUTDOWN_SECS", "1"),
            ("COURIER_RECONCILE_EVERY_SECS", "0"),
        ]));
        let mut worker = Service::workspace_binary("courier-worker", name, port, env, dir)?;
        worker.start().await?;
        workers.push(worker);
    }
    let mut apis = Vec::new();
    for name in ["courier-api-a", "courier-api-b"]
        .into_iter()
        .take(replicas)
    {
        let port = free_port()?;
        let mut env = common.clone();
        env.extend(vars(&[
            ("COURIER_API_ADDR", &format!("127.0.0.1:{port}")),
            ("COURIER_OPERATOR_TOKEN", OPERATOR_TOKEN),
            ("COURIER_JWT_SECRET", JWT_SECRET),
            // The suite is about money under faults, not abuse: no placement limit.
            ("COURIER_ORDER_RATE_PER_MINUTE", "0"),
            // Every step rides out the faults rather than waiting for an operator.
            ("COURIER_COMPENSATION_ATTEMPTS", "1000"),
            ("COURIER_PAYOUT_ATTEMPTS", "1000"),
            ("COURIER_RETRY_MAX_SECS", "2"),
            ("COURIER_ACTIVITY_TIMEOUT_SECS", "10"),
            ("COURIER_SHOP_ACCEPT_TIMEOUT_SECS", "600"),
            ("COURIER_DISPATCH_TIMEOUT_SECS", "600"),
            ("COURIER_PAYMENT_DEADLINE_SECS", "600"),
        ]));
        let mut api = Service::workspace_binary("courier-api", name, port, env, dir)?;
        api.start().await?;
        apis.push(api);
    }

    let courier_db = PgPool::connect(&pg.url("courier")).await?;
    let payments_db = PgPool::connect(&pg.url("payments")).await?;
    // Enough of everything that only the faults can make an order fail.
    sqlx::query("UPDATE stock.levels SET on_hand = 100000")
        .execute(&courier_db)
        .await?;
    Ok(World {
        pg,
        temporal,
        temporal_address,
        sandbox,
        workers,
        apis,
        courier_db,
        payments_db,
        outages: 0,
        history_kills: 0,
    })
}

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A client of the API that behaves like a real app: it retries what failed in transit (and
/// `5xx`s) with the same key, and it reads the order to learn whether a re-sent action had in fact
/// already happened.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    /// The API this client talks to (clients are spread over the replicas).
    base: String,
    answers: Arc<AtomicUsize>,
}

impl Client {
    /// The token of whoever sends `path`, as their app holds it: the customer placing (from the
    /// body) or cancelling (the order's), the shop in the path, the order's rider.
    async fn token_for(&self, path: &str, body: &Value) -> Option<String> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (role, subject) = match segments.as_slice() {
            ["orders"] => (Role::Customer, body["customer_id"].as_str()?.to_owned()),
            ["orders", id, "cancel"] => (
                Role::Customer,
                self.order(id).await?["customer_id"].as_str()?.to_owned(),
            ),
            ["shops", shop, ..] => (Role::Shop, (*shop).to_owned()),
            ["deliveries", id, _] => (
                Role::Rider,
                self.order(id).await?["rider"]["rider_id"]
                    .as_str()?
                    .to_owned(),
            ),
            _ => return None,
        };
        courier_api::auth::issue(JWT_SECRET, role, &subject, Duration::from_secs(3600)).ok()
    }

    async fn send(
        &self,
        path: &str,
        key: Option<&str>,
        body: &Value,
    ) -> Option<(StatusCode, Value)> {
        // Without a token (the order not readable right now) the app tries again later.
        let token = self.token_for(path, body).await?;
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .timeout(Duration::from_secs(30))
            .json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.ok()?;
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        if status.is_server_error() {
            return None;
        }
        self.answers.fetch_add(1, Ordering::SeqCst);
        Some((status, body))
    }

    async fn status(&self, order_id: &str) -> Option<String> {
        let order = self.order(order_id).await?;
        order["status"].as_str().map(str::to_owned)
    }

    async fn order(&self, order_id: &str) -> Option<Value> {
        let response = self
            .http
            .get(format!("{}/orders/{order_id}", self.base))
            // The suite reads orders as an operator (it watches every customer's).
            .bearer_auth(OPERATOR_TOKEN)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .ok()?;
        if response.status() != StatusCode::OK {
            return None;
        }
        response.json().await.ok()
    }

    /// Waits until the order has its rider (who was paid and set off): the rider's cue to pick
    /// up. The status alone does not say it: `READY` and `RIDER_ASSIGNED` come in either order.
    async fn wait_for_rider(&self, order_id: &str) -> anyhow::Result<()> {
        retry("waiting for a rider", || async move {
            let order = self.order(order_id).await;
            Ok(order.filter(|o| o["rider"].is_object()).map(|_| ()))
        })
        .await
    }

    /// Places the order until the API gives a definite answer: `(order id, status)`.
    async fn place(&self, key: &str, body: &Value) -> anyhow::Result<(String, String)> {
        retry("placing", || async move {
            match self.send("/orders", Some(key), body).await {
                Some((s, answer)) if s.is_success() => {
                    let id = answer["order_id"].as_str().context("an order id")?;
                    let status = answer["status"].as_str().unwrap_or("");
                    Ok(Some((id.to_owned(), status.to_owned())))
                }
                Some((StatusCode::PAYMENT_REQUIRED, answer)) => {
                    let id = answer["error"]["order_id"]
                        .as_str()
                        .context("a declined order's id")?;
                    Ok(Some((id.to_owned(), "PAYMENT_DECLINED".to_owned())))
                }
                Some((StatusCode::CONFLICT, answer))
                    if answer["error"]["code"] == "idempotency_key_busy" =>
                {
                    Ok(None)
                }
                Some((status, answer)) => bail!("placing answered {status}: {answer}"),
                None => Ok(None),
            }
        })
        .await
    }

    /// Sends an action until it is done: `200`, or a `409` while the order already shows one of
    /// `done` (an earlier attempt whose answer was lost went through).
    async fn act(
        &self,
        order_id: &str,
        path: &str,
        body: Value,
        done: &[&str],
    ) -> anyhow::Result<()> {
        let body = &body;
        retry(path, || async move {
            match self.send(path, None, body).await {
                Some((StatusCode::OK | StatusCode::ACCEPTED, _)) => Ok(Some(())),
                // Refused: if the order went through one of `done` (its timeline, not only its
                // status: `READY` and `RIDER_ASSIGNED` come in either order, so a `ready` whose
                // answer was lost can be followed by `RIDER_ASSIGNED`), an earlier attempt did it.
                Some((StatusCode::CONFLICT, answer)) => match self.order(order_id).await {
                    Some(order) if went_through(&order, done) => Ok(Some(())),
                    Some(order) if FINAL.contains(&order["status"].as_str().unwrap_or("")) => {
                        bail!("{path}: the order ended {}: {answer}", order["status"])
                    }
                    _ => Ok(None),
                },
                Some((status, answer)) => bail!("{path} answered {status}: {answer}"),
                None => Ok(None),
            }
        })
        .await
    }

    async fn wait_for(&self, order_id: &str, ok: impl Fn(&str) -> bool) -> anyhow::Result<String> {
        let ok = &ok;
        retry("waiting for a status", || async move {
            Ok(self.status(order_id).await.filter(|s| ok(s)))
        })
        .await
    }
}

/// Whether the order's timeline shows one of `statuses`.
fn went_through(order: &Value, statuses: &[&str]) -> bool {
    order["timeline"].as_array().is_some_and(|timeline| {
        timeline
            .iter()
            .any(|entry| statuses.contains(&entry["status"].as_str().unwrap_or("")))
    })
}

/// A real app's retry loop: `attempt` again (on the harness's polling tick) until it answers,
/// for as long as the run may last.
async fn retry<T, Fut>(what: &str, attempt: impl FnMut() -> Fut) -> anyhow::Result<T>
where
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    poll_until(RUN_DEADLINE, attempt)
        .await?
        .with_context(|| format!("{what}: no answer within the run's deadline"))
}

/// One customer's order, with the shop and the rider playing along: its id and final status.
async fn drive(client: &Client, run: &str, i: usize) -> anyhow::Result<(String, String)> {
    let plan = plan(i);
    let card = if plan == Plan::Decline {
        DECLINED_CARD
    } else {
        GOOD_CARD
    };
    let body = pizza_order(&format!("fault-{i}"), card);
    let (id, status) = client.place(&format!("{run}-{i}"), &body).await?;
    if plan == Plan::Decline {
        // A `202` (the payment still being tried, e.g. during an outage) settles later.
        if FINAL.contains(&status.as_str()) {
            return Ok((id, status));
        }
        let status = client.wait_for(&id, |s| FINAL.contains(&s)).await?;
        return Ok((id, status));
    }
    client.wait_for(&id, |s| s != "PAYMENT_PENDING").await?;
    let shop = |action: &str| format!("/shops/napoli-oven/orders/{id}/{action}");
    let cancel = |reason: &'static str| {
        let path = format!("/orders/{id}/cancel");
        let id = id.clone();
        let client = client.clone();
        async move {
            let done = ["CANCELLING", "CANCELLED"];
            client
                .act(&id, &path, json!({ "reason": reason }), &done)
                .await
        }
    };
    let after_accept = [
        "ACCEPTED",
        "RIDER_ASSIGNED",
        "READY",
        "PICKED_UP",
        "DELIVERED",
    ];
    match plan {
        Plan::CancelBeforeAccept => {
            cancel("changed my mind").await?;
        }
        Plan::Reject => {
            client
                .act(
                    &id,
                    &shop("reject"),
                    json!({"reason": "out_of_dough"}),
                    &["COMPENSATING", "REJECTED"],
                )
                .await?;
        }
        Plan::CancelAfterAccept => {
            client
                .act(&id, &shop("accept"), json!({}), &after_accept)
                .await?;
            cancel("too slow").await?;
        }
        Plan::Deliver => {
            client
                .act(&id, &shop("accept"), json!({}), &after_accept)
                .await?;
            client
                .act(
                    &id,
                    &shop("ready"),
                    json!({}),
                    &["READY", "PICKED_UP", "DELIVERED"],
                )
                .await?;
            client.wait_for_rider(&id).await?;
            client
                .act(
                    &id,
                    &format!("/deliveries/{id}/pickup"),
                    json!({}),
                    &["PICKED_UP", "DELIVERED"],
                )
                .await?;
            client
                .act(
                    &id,
                    &format!("/deliveries/{id}/deliver"),
                    json!({}),
                    &["DELIVERED"],
                )
                .await?;
        }
        Plan::Decline => unreachable!("handled above"),
    }
    let status = client.wait_for(&id, |s| FINAL.contains(&s)).await?;
    Ok((id, status))
}

/// The faults, in order, each once the clients have had a share of their expected answers.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// `SIGKILL` of a worker. With two, it stays down while the other carries the orders on.
    KillWorker(usize),
    ProviderOutage,
    KillApi(usize),
    RestartPostgres,
    /// The dev server killed and started again on its database file.
    RestartTemporal,
    /// The cluster's history service killed (`scripts/cluster kill history`) and restarted.
    KillHistory,
}

const DEV_FAULTS: [(f64, Fault); 7] = [
    (0.08, Fault::KillWorker(0)),
    (0.18, Fault::ProviderOutage),
    (0.30, Fault::KillApi(0)),
    (0.40, Fault::KillWorker(0)),
    (0.52, Fault::RestartPostgres),
    (0.64, Fault::RestartTemporal),
    (0.76, Fault::KillWorker(0)),
];

const CLUSTER_FAULTS: [(f64, Fault); 7] = [
    (0.08, Fault::KillWorker(0)),
    (0.25, Fault::KillHistory),
    (0.35, Fault::ProviderOutage),
    (0.45, Fault::KillApi(1)),
    (0.55, Fault::KillWorker(1)),
    (0.68, Fault::RestartPostgres),
    (0.78, Fault::KillHistory),
];

async fn inject(
    world: &Mutex<World>,
    fault: Fault,
    sandbox: &str,
    answers: &AtomicUsize,
    orders: usize,
) -> anyhow::Result<()> {
    let mut w = world.lock().await;
    match fault {
        Fault::KillWorker(i) if w.workers.len() > 1 => {
            w.workers[i].kill()?;
            drop(w);
            // The other worker alone moves orders on: wait for a tenth of the run's answers.
            let from = answers.load(Ordering::SeqCst);
            let moved = until(
                "orders moving on one worker",
                Duration::from_secs(120),
                || answers.load(Ordering::SeqCst) >= from + orders * 4 / 10,
            )
            .await;
            let mut w = world.lock().await;
            w.workers[i].start().await?;
            moved
        }
        Fault::KillWorker(i) => w.workers[i].kill_and_restart().await,
        Fault::KillApi(i) => w.apis[i].kill_and_restart().await,
        Fault::RestartPostgres => w.pg.crash_and_restart(),
        Fault::RestartTemporal => {
            // Neither the worker nor the API is restarted: they must reconnect by themselves.
            w.temporal
                .as_mut()
                .context("the dev server")?
                .kill_and_restart()
                .await
        }
        Fault::KillHistory => {
            for action in ["kill", "restart"] {
                let out = std::process::Command::new(repo_root().join("scripts/cluster"))
                    .args([action, "history"])
                    .output()?;
                if !out.status.success() {
                    bail!(
                        "scripts/cluster {action} history: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
            w.history_kills += 1;
            Ok(())
        }
        Fault::ProviderOutage => {
            let http = reqwest::Client::new();
            let switch = |down: bool| {
                http.put(format!("{sandbox}/sandbox/outage"))
                    .bearer_auth(SANDBOX_KEY)
                    .json(&json!({ "down": down }))
                    .send()
            };
            switch(true).await?.error_for_status()?;
            w.outages += 1;
            // Down until the workers have seen at least two steps fail against it (or 20 s).
            let db = w.courier_db.clone();
            drop(w);
            wait_until(Duration::from_secs(20), || async {
                let failing: i64 =
                    sqlx::query_scalar("SELECT count(*) FROM operations.failing_steps")
                        .fetch_one(&db)
                        .await
                        .unwrap_or(0);
                Ok(failing >= 2)
            })
            .await?;
            switch(false).await?.error_for_status()?;
            Ok(())
        }
    }
}

#[derive(Default, Debug)]
struct Books {
    charges: Vec<i64>,
    refunds: Vec<i64>,
    payouts: Vec<i64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn money_is_never_lost_while_processes_crash() -> anyhow::Result<()> {
    let size = size();
    let dir =
        std::env::temp_dir().join(format!("courier-faults-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let cluster = std::env::var("COURIER_FAULTS_CLUSTER")
        .ok()
        .filter(|a| !a.is_empty());
    let faults = if cluster.is_some() {
        CLUSTER_FAULTS
    } else {
        DEV_FAULTS
    };
    let world = start_world(&dir, cluster).await?;
    let bases: Vec<String> = world
        .apis
        .iter()
        .map(|api| format!("http://127.0.0.1:{}", api.port))
        .collect();
    let sandbox_base = format!("http://127.0.0.1:{}", world.sandbox.port);
    let summary_file = if world.cluster() {
        "faults-cluster-summary.txt"
    } else {
        "faults-summary.txt"
    };
    let world = Arc::new(Mutex::new(world));
    let run = uuid::Uuid::new_v4().simple().to_string();

    let client = Client {
        http: reqwest::Client::new(),
        base: String::new(),
        answers: Arc::new(AtomicUsize::new(0)),
    };
    // About four answered requests per order.
    let expected_answers = size.orders * 4;
    let next = Arc::new(AtomicUsize::new(0));
    let outcomes = Arc::new(Mutex::new(BTreeMap::<usize, (String, String)>::new()));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..size.clients {
        let (client, next, outcomes, run, bases) = (
            client.clone(),
            next.clone(),
            outcomes.clone(),
            run.clone(),
            bases.clone(),
        );
        let total = size.orders;
        clients.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    return anyhow::Ok(());
                }
                let client = Client {
                    base: bases[i % bases.len()].clone(),
                    ..client.clone()
                };
                let outcome = drive(&client, &run, i)
                    .await
                    .with_context(|| format!("order {i}"))?;
                outcomes.lock().await.insert(i, outcome);
            }
        });
    }

    let chaos = {
        let (world, answers) = (world.clone(), client.answers.clone());
        let finished = next.clone();
        let total = size.orders;
        tokio::spawn(async move {
            let mut injected = Vec::new();
            for (at, fault) in faults {
                let threshold = (expected_answers as f64 * at) as usize;
                let reached = || answers.load(Ordering::SeqCst) >= threshold;
                let done = || finished.load(Ordering::SeqCst) > total + size.clients;
                wait_until(RUN_DEADLINE, || {
                    let now = reached() || done();
                    async move { Ok(now) }
                })
                .await?;
                if !reached() {
                    return anyhow::Ok(injected);
                }
                inject(&world, fault, &sandbox_base, &answers, total)
                    .await
                    .with_context(|| format!("{fault:?}"))?;
                injected.push(fault);
            }
            anyhow::Ok(injected)
        })
    };

    let driven = tokio::time::timeout(RUN_DEADLINE, async {
        while let Some(done) = clients.join_next().await {
            done??;
        }
        anyhow::Ok(())
    })
    .await;
    // Let the chaos task see the clients are done if it still waits.
    next.fetch_add(size.orders + size.clients + 1, Ordering::SeqCst);
    let injected = chaos.await??;
    driven
        .context("the orders did not finish within the run's deadline")?
        .with_context(|| format!("the processes' logs are in {}", dir.display()))?;

    let world = world.lock().await;
    let outcomes = outcomes.lock().await;
    let summary = verify(&world, &outcomes)
        .await
        .with_context(|| format!("the processes' logs are in {}", dir.display()))?;
    println!("{summary}");
    let logs = repo_root().join(".data/logs");
    std::fs::create_dir_all(&logs)?;
    std::fs::write(logs.join(summary_file), format!("{summary}\n"))?;
    assert_eq!(
        injected.len(),
        faults.len(),
        "every fault was injected: {injected:?}"
    );
    drop(world);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Checks every order against the provider's books and Courier's tables; answers the summary or
/// fails with every violation found.
async fn verify(
    world: &World,
    outcomes: &BTreeMap<usize, (String, String)>,
) -> anyhow::Result<String> {
    let mut problems = Vec::new();
    let mut books: BTreeMap<String, Books> = BTreeMap::new();
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT kind, reference, amount FROM ledger WHERE status = 'succeeded' AND reference IS NOT NULL",
    )
    .fetch_all(&world.payments_db)
    .await?;
    for (kind, reference, amount) in rows {
        let b = books.entry(reference).or_default();
        match kind.as_str() {
            "charge" => b.charges.push(amount),
            "refund" => b.refunds.push(amount),
            _ => b.payouts.push(amount),
        }
    }
    let orders: Vec<(uuid::Uuid, String, i64, i64)> =
        sqlx::query_as("SELECT order_id, status, total_minor, seq FROM orders.orders")
            .fetch_all(&world.courier_db)
            .await?;
    let known: BTreeMap<String, (String, i64, i64)> = orders
        .iter()
        .map(|(id, status, total, seq)| (id.to_string(), (status.clone(), *total, *seq)))
        .collect();
    let (mut lost, mut double_charges, mut double_payouts, mut stuck) = (0, 0, 0, 0);
    for (i, (id, seen)) in outcomes {
        let Some((status, total, _)) = known.get(id) else {
            problems.push(format!("order {i} ({id}) is missing from the read model"));
            continue;
        };
        if status != seen {
            problems.push(format!(
                "order {i} ({id}): the client saw {seen}, the read model says {status}"
            ));
        }
        let b = books.get(id).map_or((0, 0, 0, 0), |b| {
            (
                b.charges.len(),
                b.charges.iter().sum::<i64>(),
                b.refunds.iter().sum::<i64>(),
                b.payouts.len(),
            )
        });
        let (charges, charged, refunded, payouts) = b;
        if charges > 1 {
            double_charges += 1;
        }
        if payouts > 1 {
            double_payouts += 1;
        }
        match status.as_str() {
            "DELIVERED" => {
                if (charges, charged, refunded, payouts) != (1, *total, 0, 1) {
                    problems.push(format!("delivered {id}: {:?}", books.get(id)));
                }
            }
            "CANCELLED" | "REJECTED" | "PAYMENT_FAILED" | "PAYMENT_DECLINED" | "OUT_OF_STOCK" => {
                if charged != refunded {
                    lost += 1;
                    problems.push(format!(
                        "{status} {id}: charged {charged}, refunded {refunded}"
                    ));
                }
                if payouts > 1 {
                    problems.push(format!("{status} {id}: {payouts} payouts"));
                }
            }
            other => {
                stuck += 1;
                problems.push(format!("{id} is stuck in {other}"));
            }
        }
    }
    // Money booked for an order Courier does not know (a placement given up) must be refunded.
    for (reference, b) in &books {
        if !known.contains_key(reference)
            && b.charges.iter().sum::<i64>() != b.refunds.iter().sum::<i64>()
        {
            lost += 1;
            problems.push(format!(
                "{reference}: charged without an order and not refunded: {b:?}"
            ));
        }
    }
    // One payout per dispatched order.
    let dispatched: Vec<(uuid::Uuid, Option<String>)> =
        sqlx::query_as("SELECT order_id, fee_payout_id FROM dispatch.assignments")
            .fetch_all(&world.courier_db)
            .await?;
    for (id, payout) in &dispatched {
        let paid = books.get(&id.to_string()).map_or(0, |b| b.payouts.len());
        if payout.is_some() && paid != 1 {
            problems.push(format!("{id}: dispatched, paid {paid} times"));
        }
    }
    let busy: i64 = sqlx::query_scalar("SELECT count(*) FROM dispatch.riders WHERE NOT available")
        .fetch_one(&world.courier_db)
        .await?;
    if busy != 0 {
        problems.push(format!("{busy} riders still locked"));
    }
    let held: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM stock.reservations r JOIN orders.orders o USING (order_id) \
         WHERE r.released_at IS NULL AND o.status <> 'DELIVERED'",
    )
    .fetch_one(&world.courier_db)
    .await?;
    if held != 0 {
        problems.push(format!(
            "{held} reservations of undelivered orders still held"
        ));
    }
    // The read model equals each workflow's own view.
    let temporal = courier_tests::temporal_client_at(&world.temporal_address).await?;
    let mut identities: BTreeMap<String, usize> = BTreeMap::new();
    for (id, (status, _, seq)) in &known {
        let view = temporal
            .get_workflow_handle::<courier_workflows::OrderWorkflow>(format!("order-{id}"))
            .query(
                courier_workflows::OrderWorkflow::status,
                (),
                temporalio_client::WorkflowQueryOptions::default(),
            )
            .await
            .with_context(|| format!("querying order {id}"))?;
        // Which workers ran the order's workflow tasks (the SDK's identity, `pid@host`).
        let history = temporal
            .get_workflow_handle::<courier_workflows::OrderWorkflow>(format!("order-{id}"))
            .fetch_history(temporalio_client::WorkflowFetchHistoryOptions::default())
            .into_events()
            .await?;
        let mut ran: Vec<String> = history
            .iter()
            .filter_map(|e| match &e.attributes {
                Some(Attributes::WorkflowTaskCompletedEventAttributes(a)) => {
                    Some(a.identity.clone())
                }
                _ => None,
            })
            .collect();
        ran.sort();
        ran.dedup();
        for identity in ran {
            *identities.entry(identity).or_default() += 1;
        }
        if view.status.as_str() != status || view.seq != *seq {
            problems.push(format!(
                "{id}: read model {status}#{seq}, workflow {}#{}",
                view.status.as_str(),
                view.seq
            ));
        }
    }
    if world.cluster() && world.workers.len() > 1 && identities.len() < 2 {
        problems.push(format!(
            "the orders did not spread over both workers: {identities:?}"
        ));
    }
    let count = |s: &str| outcomes.values().filter(|(_, seen)| seen == s).count();
    let kills = |services: &[Service]| services.iter().map(|s| s.kills).sum::<u32>();
    let temporal = match &world.temporal {
        Some(dev) => format!("dev server restarts {}", dev.kills),
        None => format!("history kills {}", world.history_kills),
    };
    let summary = format!(
        "faults{}: {} orders ({} delivered, {} cancelled, {} rejected, {} declined) on {} worker(s) \
         and {} API(s), workflow tasks run by {} worker processes; worker kills {}, api kills {}, \
         postgres restarts {}, {temporal}, provider outages {}; lost {lost}, double charges \
         {double_charges}, double payouts {double_payouts}, stuck {stuck}",
        if world.cluster() { " (cluster)" } else { "" },
        outcomes.len(),
        count("DELIVERED"),
        count("CANCELLED"),
        count("REJECTED"),
        count("PAYMENT_DECLINED"),
        world.workers.len(),
        world.apis.len(),
        identities.len(),
        kills(&world.workers),
        kills(&world.apis),
        world.pg.restarts,
        world.outages,
    );
    if !problems.is_empty() {
        bail!("{summary}\n{}", problems.join("\n"));
    }
    Ok(summary)
}
