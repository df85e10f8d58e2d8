//! `courier-admin`: operator commands against the Courier API (see `courier_api::cli`).

use clap::Parser;
use courier_api::cli::{Cli, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (status, body) = run(Cli::parse()).await?;
    match body {
        // A token prints bare, for `$(courier-admin token ...)`.
        serde_json::Value::String(text) => println!("{text}"),
        body => println!("{}", serde_json::to_string_pretty(&body)?),
    }
    if status >= 400 {
        std::process::exit(1);
    }
    Ok(())
}
