//! `courier-bench`: Courier's load generator and its ceiling.
//!
//! It drives full order lifecycles through Courier's REST API from many clients at once (a mix of
//! delivered, cancelled, rejected and declined orders), and, on the same Temporal server in the
//! same run, the same lifecycles of a lean order workflow whose steps do nothing: the engine's
//! ceiling for Courier's saga. It reports latency percentiles, throughput, `202`s, errors and the
//! read model's lag per step, as tables (`docs/benchmarks.md`) and plots. It never runs in
//! production and Courier never depends on it.
//!
//! # Layout
//! - [`lean`]: the lean workflow and its worker (the ceiling).
//! - [`courier`], [`ceiling`]: the clients that drive Courier (REST) and the lean saga (Temporal).
//! - [`mix`]: which lifecycle each order of a run follows.
//! - [`run`]: the phases of a run; [`stats`]: what they record.
//! - [`report`], [`plot`]: Markdown tables and SVG plots.

pub mod ceiling;
pub mod courier;
pub mod lean;
pub mod mix;
pub mod plot;
pub mod report;
pub mod run;
pub mod stats;

pub use run::{Config, Report, Systems, run};

/// A Temporal client for the bench (its own connection).
pub async fn temporal_client(
    address: &str,
    namespace: &str,
) -> anyhow::Result<temporalio_client::Client> {
    use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions};
    let url = if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    };
    let connection =
        Connection::connect(ConnectionOptions::new(url.parse::<temporalio_client::Url>()?).build())
            .await?;
    Ok(Client::new(
        connection,
        ClientOptions::new(namespace).build(),
    )?)
}
