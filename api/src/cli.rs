//! `courier-admin`: the operator endpoints from a terminal. It talks to the API (never to Temporal
//! or Postgres directly), so every action is authorised and audited the same way.
//!
//! ```text
//! courier-admin stuck [--older-than-secs N]
//! courier-admin retry|restart|cancel|terminate|compensate ORDER_ID --operator WHO --reason WHY
//! courier-admin reconciliation [--run --operator WHO --reason WHY]
//! courier-admin rebuild [--order-id ORDER_ID] --operator WHO --reason WHY
//! courier-admin audit [--order-id ORDER_ID]
//! ```
//! `COURIER_API_URL` (default `http://127.0.0.1:8080`) and `COURIER_OPERATOR_TOKEN` (or
//! `COURIER_OPERATOR_TOKEN_FILE`) say where and as whom.

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(name = "courier-admin", about = "Find and repair stuck Courier orders")]
pub struct Cli {
    /// The Courier API.
    #[arg(long, env = "COURIER_API_URL", default_value = "http://127.0.0.1:8080")]
    pub api: String,
    /// The operator bearer token (or set COURIER_OPERATOR_TOKEN_FILE).
    #[arg(long, env = "COURIER_OPERATOR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List orders whose workflow is not progressing.
    Stuck {
        #[arg(long)]
        older_than_secs: Option<u64>,
    },
    /// Retry the compensation step an order waits on (NEEDS_ATTENTION).
    Retry(Action),
    /// Reset the order's workflow to its last good workflow task.
    Restart(Action),
    /// Cancel the order, compensating what was done.
    Cancel(Action),
    /// Terminate the order's workflow (last resort); the order is marked NEEDS_ATTENTION.
    Terminate(Action),
    /// Undo what a terminated or failed order did (refund, stock, rider, shop board).
    Compensate(Action),
    /// Show the last reconciliation of the provider's books with the orders, or run one now.
    Reconciliation {
        /// Run a reconciliation now (needs --operator and --reason).
        #[arg(long, requires_all = ["operator", "reason"])]
        run: bool,
        #[arg(long, env = "COURIER_OPERATOR")]
        operator: Option<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Re-project orders into the read model from their workflows.
    Rebuild {
        #[arg(long)]
        order_id: Option<String>,
        #[command(flatten)]
        intent: Intent,
    },
    /// Show the audit trail.
    Audit {
        #[arg(long)]
        order_id: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct Action {
    pub order_id: String,
    #[command(flatten)]
    pub intent: Intent,
}

#[derive(Debug, Args)]
pub struct Intent {
    /// Who is acting (recorded in the audit trail).
    #[arg(long, env = "COURIER_OPERATOR")]
    pub operator: String,
    /// Why (recorded in the audit trail).
    #[arg(long)]
    pub reason: String,
}

/// Runs one command and returns the API's answer (status and JSON body).
pub async fn run(cli: Cli) -> anyhow::Result<(u16, Value)> {
    let token = match cli.token {
        Some(token) => token,
        None => courier_runtime::settings::secret("COURIER_OPERATOR_TOKEN")?
            .ok_or_else(|| anyhow::anyhow!("set COURIER_OPERATOR_TOKEN (or --token)"))?,
    };
    let base = cli.api.trim_end_matches('/').to_owned();
    let http = reqwest::Client::new();
    let intent_body = |i: &Intent| json!({ "operator": i.operator, "reason": i.reason });
    let request = match &cli.command {
        Command::Stuck { older_than_secs } => {
            let mut request = http.get(format!("{base}/admin/orders/stuck"));
            if let Some(secs) = older_than_secs {
                request = request.query(&[("older_than_secs", secs.to_string())]);
            }
            request
        }
        Command::Retry(a)
        | Command::Restart(a)
        | Command::Cancel(a)
        | Command::Terminate(a)
        | Command::Compensate(a) => {
            let verb = match &cli.command {
                Command::Retry(_) => "retry",
                Command::Restart(_) => "restart",
                Command::Cancel(_) => "cancel",
                Command::Compensate(_) => "compensate",
                _ => "terminate",
            };
            http.post(format!("{base}/admin/orders/{}/{verb}", a.order_id))
                .json(&intent_body(&a.intent))
        }
        Command::Rebuild { order_id, intent } => {
            let mut body = intent_body(intent);
            if let Some(id) = order_id {
                body["order_id"] = json!(id);
            }
            http.post(format!("{base}/admin/read-model/rebuild"))
                .json(&body)
        }
        Command::Reconciliation {
            run: true,
            operator,
            reason,
        } => http
            .post(format!("{base}/admin/reconciliation/run"))
            .json(&json!({ "operator": operator, "reason": reason })),
        Command::Reconciliation { .. } => http.get(format!("{base}/admin/reconciliation")),
        Command::Audit { order_id } => {
            let mut request = http.get(format!("{base}/admin/audit"));
            if let Some(id) = order_id {
                request = request.query(&[("order_id", id)]);
            }
            request
        }
    };
    let response = request.bearer_auth(token).send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, body))
}
