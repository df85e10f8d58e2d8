//! `courier-bench`: runs the benchmark against a running Courier (see `scripts/bench`, which
//! starts a release build of everything and calls this).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use courier_bench::courier::Courier;
use courier_bench::lean::LeanWorker;
use courier_bench::mix::Mix;
use courier_bench::report::{self, Context};
use courier_bench::{Config, Systems, plot, run, temporal_client};

#[derive(Debug, Parser)]
#[command(
    about = "Courier's benchmark: lifecycles through the REST API beside the engine's ceiling"
)]
struct Args {
    /// Courier's API.
    #[arg(long, env = "COURIER_API_URL", default_value = "http://127.0.0.1:8080")]
    api: String,
    /// The Temporal frontend Courier runs on (the ceiling runs there too).
    #[arg(long, env = "TEMPORAL_ADDRESS", default_value = "127.0.0.1:7233")]
    temporal: String,
    #[arg(long, env = "TEMPORAL_NAMESPACE", default_value = "default")]
    namespace: String,
    /// Courier's database, to add the riders a run needs.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// For the stuck scan of the soak.
    #[arg(long, env = "COURIER_OPERATOR_TOKEN")]
    operator_token: Option<String>,
    /// Signs the customers', shop's and riders' tokens (the API's development secret).
    #[arg(long, env = "COURIER_JWT_SECRET", hide_env_values = true)]
    jwt_secret: String,
    /// Concurrent clients, one level after another.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    concurrency: Vec<usize>,
    /// Orders placed (and left for the shop) per level and system.
    #[arg(long, default_value_t = 200)]
    placements: usize,
    /// Full lifecycles per level and system.
    #[arg(long, default_value_t = 200)]
    lifecycles: usize,
    /// Lifecycle weights: delivered, cancel_paid, cancel_accepted, cancel_ready, rejected, declined.
    #[arg(long, default_value_t = Mix::default())]
    mix: Mix,
    /// Clients of a level start one after another over this many seconds.
    #[arg(long, default_value_t = 1.0)]
    ramp_secs: f64,
    #[arg(long, default_value_t = 5.0)]
    read_secs: f64,
    #[arg(long, default_value_t = 16)]
    read_connections: usize,
    /// Orders left waiting for their shop at the end, to measure a full house (0: skip).
    #[arg(long, default_value_t = 0)]
    open_orders: usize,
    /// Processes to measure, as name=pid (temporal, worker, api).
    #[arg(long = "pid", value_parser = parse_pid)]
    pids: Vec<(String, u32)>,
    /// Small numbers, a few seconds: checks that everything works, measures nothing.
    #[arg(long)]
    quick: bool,
    /// Where to write benchmarks.md, benchmarks.json and the plots.
    #[arg(long)]
    report_dir: Option<PathBuf>,
    #[arg(long, default_value = "unknown")]
    commit: String,
    /// How the Temporal server was started, for the report.
    #[arg(long, default_value = "")]
    server: String,
}

fn parse_pid(raw: &str) -> Result<(String, u32), String> {
    let (name, pid) = raw.split_once('=').ok_or("expected name=pid")?;
    Ok((
        name.to_owned(),
        pid.parse().map_err(|_| "the pid must be a number")?,
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut config = Config {
        concurrency: args.concurrency.clone(),
        placements: args.placements,
        lifecycles: args.lifecycles,
        mix: args.mix.clone(),
        ramp: Duration::from_secs_f64(args.ramp_secs),
        read_duration: Duration::from_secs_f64(args.read_secs),
        read_connections: args.read_connections,
        open_orders: args.open_orders,
        // This process runs the lean saga's worker: its CPU is the ceiling's worker CPU.
        pids: args
            .pids
            .iter()
            .cloned()
            .chain([("bench".to_owned(), std::process::id())])
            .collect(),
    };
    if args.quick {
        config = Config::quick(config.pids);
    }
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&args.database_url)
        .await
        .context("connecting to Courier's database")?;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let courier = Courier::new(
        reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()?,
        &args.api,
        args.operator_token.clone(),
        args.jwt_secret.clone(),
        run_id.clone(),
    );
    let riders = config.concurrency.iter().copied().max().unwrap_or(1) * 2 + 8;
    courier.prepare(&db, riders).await?;
    let temporal = temporal_client(&args.temporal, &args.namespace).await?;
    let task_queue = format!("courier-bench-lean-{run_id}");
    let worker = LeanWorker::start(
        temporal_client(&args.temporal, &args.namespace).await?,
        task_queue.clone(),
    );
    let systems = Systems {
        courier,
        ceilings: run::ceilings(&temporal, &task_queue, &run_id),
        temporal,
    };
    let report = run(&config, &systems).await?;
    worker.stop()?;

    let context = Context {
        commit: args.commit.clone(),
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        machine: machine(),
        server: args.server.clone(),
        config: format!(
            "clients {:?}; {} placements and {} lifecycles per level and system; mix {}; reads {} s on {} connections{}",
            config.concurrency,
            config.placements,
            config.lifecycles,
            config.mix,
            config.read_duration.as_secs_f64(),
            config.read_connections,
            if config.open_orders > 0 {
                format!("; soak of {} open orders", config.open_orders)
            } else {
                String::new()
            }
        ),
    };
    let plots = match &args.report_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            plot::write(&report, dir).map_err(|e| anyhow::anyhow!("plotting: {e}"))?
        }
        None => Vec::new(),
    };
    let markdown = report::markdown(&report, &context, &plots);
    println!("{markdown}");
    if let Some(dir) = &args.report_dir {
        std::fs::write(dir.join("benchmarks.md"), &markdown)?;
        std::fs::write(
            dir.join("benchmarks.json"),
            serde_json::to_string_pretty(&report)?,
        )?;
        eprintln!(
            "[bench] report written to {}",
            dir.join("benchmarks.md").display()
        );
    }
    let failures: u64 = report
        .levels
        .iter()
        .flat_map(|l| &l.systems)
        .map(|s| s.lifecycles_failed as u64)
        .sum();
    if args.quick && failures > 0 {
        anyhow::bail!("{failures} lifecycles failed in the quick run");
    }
    Ok(())
}

/// The CPU model, cores and memory of this machine, for the report.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gb = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    format!("{model}, {cores} cores, {mem_gb:.0} GiB")
}
