//! One benchmark run: for each concurrency, placements and full lifecycles through Courier and
//! through the lean saga on the same server; then reads (`GET /orders/{id}` against a Temporal
//! Query of the same status); then, if asked, a soak of many open orders.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use courier_workflows::OrderWorkflow;
use futures::future::join_all;
use serde::Serialize;
use temporalio_client::{
    Client, WorkflowFetchHistoryOptions, WorkflowGetResultOptions, WorkflowQueryOptions,
};

use crate::ceiling::Ceiling;
use crate::courier::{Courier, GOOD_CARD, Outcome};
use crate::lean::{LeanOrderWorkflow, StepKind};
use crate::mix::{Lifecycle, Mix};
use crate::stats::{Recorder, StepStats, timed};

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub concurrency: Vec<usize>,
    /// Orders placed (and left waiting for the shop) per concurrency and system.
    pub placements: usize,
    /// Full lifecycles per concurrency and system.
    pub lifecycles: usize,
    pub mix: Mix,
    /// Clients start one after another over this long.
    pub ramp: Duration,
    pub read_duration: Duration,
    pub read_connections: usize,
    /// Orders left open for the soak (0: no soak).
    pub open_orders: usize,
    /// Processes whose CPU time and memory the report shows (`temporal`, `worker`, `api`).
    pub pids: Vec<(String, u32)>,
}

impl Config {
    /// A few orders at two levels: enough to see every phase work, too few to measure anything.
    pub fn quick(pids: Vec<(String, u32)>) -> Self {
        Self {
            concurrency: vec![1, 2],
            placements: 3,
            lifecycles: 6,
            mix: "delivered=1,cancel_paid=1,cancel_accepted=1,cancel_ready=1,rejected=1,declined=1"
                .parse()
                .expect("a valid mix"),
            ramp: Duration::ZERO,
            read_duration: Duration::from_millis(300),
            read_connections: 2,
            open_orders: 0,
            pids,
        }
    }
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub levels: Vec<Level>,
    pub reads: Vec<StepStats>,
    pub soak: Option<Soak>,
    pub events_per_order: Vec<(String, usize)>,
}

/// The figures of one concurrency level, for Courier and each ceiling.
#[derive(Debug, Clone, Serialize)]
pub struct Level {
    pub concurrency: usize,
    pub systems: Vec<SystemRun>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SystemRun {
    pub system: String,
    pub placement: Vec<StepStats>,
    pub placement_per_sec: f64,
    pub lifecycle: Vec<StepStats>,
    pub lifecycles_per_sec: f64,
    pub lifecycles_failed: usize,
    /// CPU seconds each process spent per lifecycle in the lifecycle phase.
    pub cpu_per_lifecycle: Vec<(String, f64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Soak {
    pub orders: usize,
    pub created_secs: f64,
    pub placement: Vec<StepStats>,
    pub worker_rss_mb: Option<f64>,
    pub reads: Vec<StepStats>,
    pub stuck_scan_ms: Vec<f64>,
    pub stuck_found: usize,
}

/// Runs `n` jobs on `concurrency` clients (started over `ramp`); answers the wall time and how
/// many jobs succeeded.
pub async fn phase<F, Fut>(
    n: usize,
    concurrency: usize,
    ramp: Duration,
    job: F,
) -> (Duration, usize)
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let clients: Vec<_> = (0..concurrency.max(1))
        .map(|k| {
            let (next, done, job) = (next.clone(), done.clone(), job.clone());
            let delay = ramp.mul_f64(k as f64 / concurrency.max(1) as f64);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    if job(i).await {
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    join_all(clients).await;
    (start.elapsed(), done.load(Ordering::SeqCst))
}

/// CPU seconds (user + system) a process has used so far, from `/proc/{pid}/stat`.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: the fields we want follow its closing parenthesis.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports in clock ticks of 1/100 s on every architecture it runs on here.
    Some((utime + stime) / 100.0)
}

/// Resident memory of a process, in MiB.
pub fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn cpu_snapshot(pids: &[(String, u32)]) -> Vec<(String, f64)> {
    pids.iter()
        .filter_map(|(name, pid)| cpu_secs(*pid).map(|s| (name.clone(), s)))
        .collect()
}

fn cpu_per(before: &[(String, f64)], after: &[(String, f64)], per: usize) -> Vec<(String, f64)> {
    after
        .iter()
        .filter_map(|(name, a)| {
            let b = before.iter().find(|(n, _)| n == name)?.1;
            Some((name.clone(), (a - b) / per.max(1) as f64))
        })
        .collect()
}

/// The systems measured at every level: Courier and the two ceilings.
pub struct Systems {
    pub courier: Courier,
    pub ceilings: Vec<Ceiling>,
    pub temporal: Client,
}

pub async fn run(config: &Config, systems: &Systems) -> anyhow::Result<Report> {
    let mut levels = Vec::new();
    let mut offset = 0;
    let mut delivered_sample: Vec<(String, String)> = Vec::new();
    for &c in &config.concurrency {
        eprintln!("[bench] concurrency {c}");
        let mut runs = Vec::new();
        let run = courier_level(config, &systems.courier, c, offset).await?;
        runs.push(run.0);
        if let Some(id) = run.1 {
            delivered_sample.push(("Courier".to_owned(), format!("order-{id}")));
        }
        for ceiling in &systems.ceilings {
            let (run, delivered) = ceiling_level(config, ceiling, c, offset).await;
            runs.push(run);
            if let Some(id) = delivered {
                delivered_sample.push((ceiling.steps.label().to_owned(), id));
            }
        }
        offset += config.placements.max(config.lifecycles) + 1;
        levels.push(Level {
            concurrency: c,
            systems: runs,
        });
    }
    let events_per_order = count_events(&systems.temporal, &delivered_sample).await;
    let reads = reads(config, &systems.courier, &systems.temporal, offset).await?;
    offset += 64;
    let soak = if config.open_orders > 0 {
        Some(soak(config, &systems.courier, offset).await?)
    } else {
        None
    };
    Ok(Report {
        levels,
        reads,
        soak,
        events_per_order,
    })
}

/// Courier at one concurrency: placements left open (then cancelled), then full lifecycles.
/// Answers the run and one delivered order's id.
async fn courier_level(
    config: &Config,
    courier: &Courier,
    c: usize,
    offset: usize,
) -> anyhow::Result<(SystemRun, Option<String>)> {
    let placed = Recorder::default();
    let open = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (wall, _) = {
        let (courier, placed, open) = (courier.clone(), placed.clone(), open.clone());
        phase(config.placements, c, config.ramp, move |i| {
            let (courier, placed, open) = (courier.clone(), placed.clone(), open.clone());
            async move {
                let id = courier.place(offset + i, GOOD_CARD, &placed).await;
                let ok = id.is_some();
                open.lock().expect("lock").extend(id);
                ok
            }
        })
        .await
    };
    let placement = placed.summarise(wall);
    let placement_per_sec = config.placements as f64 / wall.as_secs_f64();
    eprintln!(
        "[bench]   Courier: {} placements in {wall:.1?}",
        config.placements
    );
    let left_open = std::mem::take(&mut *open.lock().expect("lock"));
    cleanup_courier(courier, left_open, c).await;

    let plan = Arc::new(config.mix.plan(config.lifecycles));
    let lived = Recorder::default();
    let before = cpu_snapshot(&config.pids);
    let last_delivered = Arc::new(std::sync::Mutex::new(None));
    let (wall, done) = {
        let (courier, lived, plan, last) = (
            courier.clone(),
            lived.clone(),
            plan.clone(),
            last_delivered.clone(),
        );
        phase(config.lifecycles, c, config.ramp, move |i| {
            let (courier, lived, plan, last) =
                (courier.clone(), lived.clone(), plan.clone(), last.clone());
            async move {
                let n = offset + config_base() + i;
                let ok = matches!(courier.lifecycle(n, plan[i], &lived).await, Outcome::Done);
                if ok && plan[i] == Lifecycle::Delivered {
                    *last.lock().expect("lock") = Some(n);
                }
                ok
            }
        })
        .await
    };
    let after = cpu_snapshot(&config.pids);
    eprintln!(
        "[bench]   Courier: {} lifecycles in {wall:.1?}",
        config.lifecycles
    );
    let delivered = *last_delivered.lock().expect("lock");
    let delivered_id = match delivered {
        Some(n) => delivered_order_id(courier, n).await,
        None => None,
    };
    Ok((
        SystemRun {
            system: "Courier".to_owned(),
            placement,
            placement_per_sec,
            lifecycle: lived.summarise(wall),
            lifecycles_per_sec: done as f64 / wall.as_secs_f64(),
            lifecycles_failed: config.lifecycles - done,
            cpu_per_lifecycle: cpu_per(&before, &after, config.lifecycles),
        },
        delivered_id,
    ))
}

/// Lifecycle orders are numbered apart from placement orders of the same level.
const fn config_base() -> usize {
    1_000_000
}

/// The order id of customer `bench-{run}-{n}`'s order, from their order list.
async fn delivered_order_id(courier: &Courier, n: usize) -> Option<String> {
    let (status, body) = courier
        .get(&format!("/customers/{}/orders", courier.customer(n)))
        .await
        .ok()?;
    if status != 200 {
        return None;
    }
    body["orders"][0]["order_id"].as_str().map(str::to_owned)
}

/// Cancels orders left open by a placement phase, and waits until each has ended.
async fn cleanup_courier(courier: &Courier, ids: Vec<String>, c: usize) {
    let ids = Arc::new(ids);
    let n = ids.len();
    let courier = courier.clone();
    let scratch = Recorder::default();
    phase(n, c.max(4), Duration::ZERO, move |i| {
        let (courier, ids, scratch) = (courier.clone(), ids.clone(), scratch.clone());
        async move {
            let _ = courier.cancel(&ids[i], &scratch).await;
            courier
                .wait(&ids[i], |o| o["status"] == "CANCELLED")
                .await
                .is_ok()
        }
    })
    .await;
}

/// The lean saga at one concurrency, as [`courier_level`]; answers the run and one delivered
/// order's workflow id.
async fn ceiling_level(
    config: &Config,
    ceiling: &Ceiling,
    c: usize,
    offset: usize,
) -> (SystemRun, Option<String>) {
    let placed = Recorder::default();
    let open = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (wall, _) = {
        let (ceiling, placed, open) = (ceiling.clone(), placed.clone(), open.clone());
        phase(config.placements, c, config.ramp, move |i| {
            let (ceiling, placed, open) = (ceiling.clone(), placed.clone(), open.clone());
            async move {
                let id = ceiling.place(offset + i, false, &placed).await;
                let ok = id.is_some();
                open.lock().expect("lock").extend(id);
                ok
            }
        })
        .await
    };
    let placement = placed.summarise(wall);
    let placement_per_sec = config.placements as f64 / wall.as_secs_f64();
    let ids = Arc::new(std::mem::take(&mut *open.lock().expect("lock")));
    {
        let (ceiling, ids) = (ceiling.clone(), ids.clone());
        let scratch = Recorder::default();
        phase(ids.len(), c.max(4), Duration::ZERO, move |i| {
            let (ceiling, ids, scratch) = (ceiling.clone(), ids.clone(), scratch.clone());
            async move { ceiling.act(&ids[i], "cancel", &scratch).await }
        })
        .await;
    }

    let plan = Arc::new(config.mix.plan(config.lifecycles));
    let lived = Recorder::default();
    let before = cpu_snapshot(&config.pids);
    let last_delivered = Arc::new(std::sync::Mutex::new(None));
    let (wall, done) = {
        let (ceiling, lived, plan, last) = (
            ceiling.clone(),
            lived.clone(),
            plan.clone(),
            last_delivered.clone(),
        );
        phase(config.lifecycles, c, config.ramp, move |i| {
            let (ceiling, lived, plan, last) =
                (ceiling.clone(), lived.clone(), plan.clone(), last.clone());
            async move {
                let n = offset + config_base() + i;
                let ok = ceiling.lifecycle(n, plan[i], &lived).await;
                if ok && plan[i] == Lifecycle::Delivered {
                    *last.lock().expect("lock") = Some(ceiling.workflow_id(n));
                }
                ok
            }
        })
        .await
    };
    let after = cpu_snapshot(&config.pids);
    eprintln!(
        "[bench]   {}: {} lifecycles in {wall:.1?}",
        ceiling.steps.label(),
        config.lifecycles
    );
    let delivered = last_delivered.lock().expect("lock").clone();
    let run = SystemRun {
        system: ceiling.steps.label().to_owned(),
        placement,
        placement_per_sec,
        lifecycle: lived.summarise(wall),
        lifecycles_per_sec: done as f64 / wall.as_secs_f64(),
        lifecycles_failed: config.lifecycles - done,
        cpu_per_lifecycle: cpu_per(&before, &after, config.lifecycles),
    };
    (run, delivered)
}

/// History events of one delivered order per system (the last one each system delivered).
async fn count_events(temporal: &Client, sample: &[(String, String)]) -> Vec<(String, usize)> {
    let mut latest: Vec<(String, String)> = Vec::new();
    for (system, id) in sample {
        latest.retain(|(s, _)| s != system);
        latest.push((system.clone(), id.clone()));
    }
    let mut counts = Vec::new();
    for (system, workflow_id) in &latest {
        let events = if system == "Courier" {
            let handle = temporal.get_workflow_handle::<OrderWorkflow>(workflow_id.clone());
            let _ = handle.get_result(WorkflowGetResultOptions::default()).await;
            handle
                .fetch_history(WorkflowFetchHistoryOptions::default())
                .into_events()
                .await
                .map(|e| e.len())
        } else {
            let handle = temporal.get_workflow_handle::<LeanOrderWorkflow>(workflow_id.clone());
            let _ = handle.get_result(WorkflowGetResultOptions::default()).await;
            handle
                .fetch_history(WorkflowFetchHistoryOptions::default())
                .into_events()
                .await
                .map(|e| e.len())
        };
        if let Ok(n) = events {
            counts.push((system.clone(), n));
        }
    }
    counts
}

/// `GET /orders/{id}` against a Temporal Query of the same status, on orders waiting for the shop.
async fn reads(
    config: &Config,
    courier: &Courier,
    temporal: &Client,
    offset: usize,
) -> anyhow::Result<Vec<StepStats>> {
    let scratch = Recorder::default();
    let mut ids = Vec::new();
    for i in 0..32 {
        if let Some(id) = courier.place(offset + i, GOOD_CARD, &scratch).await {
            ids.push(id);
        }
    }
    anyhow::ensure!(
        !ids.is_empty(),
        "no order could be placed for the read phase"
    );
    let ids = Arc::new(ids);
    let rec = Recorder::default();
    let get = read_for(config, ids.clone(), rec.clone(), {
        let courier = courier.clone();
        move |id: String, rec: Recorder| {
            let courier = courier.clone();
            async move {
                let (answer, took) = timed(courier.get(&format!("/orders/{id}"))).await;
                match answer {
                    Ok((200, _)) => rec.ok("GET /orders/{id}", took),
                    Ok((status, body)) => {
                        rec.error("GET /orders/{id}", took, format!("{status} {body}"))
                    }
                    Err(err) => rec.error("GET /orders/{id}", took, format!("{err:#}")),
                }
            }
        }
    })
    .await;
    let mut rows = rec.summarise(get);
    let rec = Recorder::default();
    let query = read_for(config, ids.clone(), rec.clone(), {
        let temporal = temporal.clone();
        move |id: String, rec: Recorder| {
            let temporal = temporal.clone();
            async move {
                let handle = temporal.get_workflow_handle::<OrderWorkflow>(format!("order-{id}"));
                let (answer, took) =
                    timed(handle.query(OrderWorkflow::status, (), WorkflowQueryOptions::default()))
                        .await;
                match answer {
                    Ok(_) => rec.ok("Temporal Query status", took),
                    Err(err) => rec.error("Temporal Query status", took, err.to_string()),
                }
            }
        }
    })
    .await;
    rows.extend(rec.summarise(query));
    cleanup_courier(courier, ids.to_vec(), 8).await;
    Ok(rows)
}

/// Calls `read` on the orders round robin from `config.read_connections` clients for
/// `config.read_duration`; answers the wall time.
async fn read_for<F, Fut>(
    config: &Config,
    ids: Arc<Vec<String>>,
    rec: Recorder,
    read: F,
) -> Duration
where
    F: Fn(String, Recorder) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let deadline = Instant::now() + config.read_duration;
    let start = Instant::now();
    let tasks: Vec<_> = (0..config.read_connections)
        .map(|k| {
            let (ids, rec, read) = (ids.clone(), rec.clone(), read.clone());
            tokio::spawn(async move {
                let mut i = k;
                while Instant::now() < deadline {
                    read(ids[i % ids.len()].clone(), rec.clone()).await;
                    i += 1;
                }
            })
        })
        .collect();
    join_all(tasks).await;
    start.elapsed()
}

/// Many orders waiting for their shops: how long they take to create, the worker's memory, reads
/// and the stuck scan with all of them open.
async fn soak(config: &Config, courier: &Courier, offset: usize) -> anyhow::Result<Soak> {
    eprintln!("[bench] soak: {} open orders", config.open_orders);
    let placed = Recorder::default();
    let open = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (wall, _) = {
        let (courier, placed, open) = (courier.clone(), placed.clone(), open.clone());
        phase(config.open_orders, 16, config.ramp, move |i| {
            let (courier, placed, open) = (courier.clone(), placed.clone(), open.clone());
            async move {
                let id = courier.place(offset + i, GOOD_CARD, &placed).await;
                let ok = id.is_some();
                open.lock().expect("lock").extend(id);
                ok
            }
        })
        .await
    };
    let ids: Vec<String> = std::mem::take(&mut *open.lock().expect("lock"));
    let sample: Vec<String> = ids
        .iter()
        .step_by((ids.len() / 256).max(1))
        .cloned()
        .collect();
    let rec = Recorder::default();
    let read_wall = read_for(config, Arc::new(sample), rec.clone(), {
        let courier = courier.clone();
        move |id: String, rec: Recorder| {
            let courier = courier.clone();
            async move {
                let (answer, took) = timed(courier.get(&format!("/orders/{id}"))).await;
                match answer {
                    Ok((200, _)) => rec.ok("GET /orders/{id}", took),
                    Ok((status, body)) => {
                        rec.error("GET /orders/{id}", took, format!("{status} {body}"))
                    }
                    Err(err) => rec.error("GET /orders/{id}", took, format!("{err:#}")),
                }
            }
        }
    })
    .await;
    let mut stuck_scan_ms = Vec::new();
    let mut stuck_found = 0;
    for _ in 0..3 {
        let (answer, took) = timed(courier.get("/admin/orders/stuck")).await;
        let (status, body) = answer.context("the stuck scan")?;
        anyhow::ensure!(status == 200, "the stuck scan answered {status}: {body}");
        stuck_found = body["orders"].as_array().map_or(0, Vec::len);
        stuck_scan_ms.push(took.as_secs_f64() * 1000.0);
    }
    let worker_rss_mb = config
        .pids
        .iter()
        .find(|(name, _)| name == "worker")
        .and_then(|(_, pid)| rss_mb(*pid));
    Ok(Soak {
        orders: ids.len(),
        created_secs: wall.as_secs_f64(),
        placement: placed.summarise(wall),
        worker_rss_mb,
        reads: rec.summarise(read_wall),
        stuck_scan_ms,
        stuck_found,
    })
}

/// The ceiling's systems for a run: one per step kind, on the lean worker's task queue.
pub fn ceilings(client: &Client, task_queue: &str, run: &str) -> Vec<Ceiling> {
    [StepKind::Activity, StepKind::Local]
        .into_iter()
        .map(|steps| Ceiling {
            client: client.clone(),
            task_queue: task_queue.to_owned(),
            steps,
            run: run.to_owned(),
        })
        .collect()
}
