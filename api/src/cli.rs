//! `courier-admin`: the operator endpoints from a terminal. It talks to the API (never to Temporal
//! or Postgres directly), so every action is authorised and audited the same way.
//!
//! ```text
//! courier-admin stuck [--older-than-secs N]
//! courier-admin retry|restart|cancel|terminate|compensate ORDER_ID --reason WHY
//! courier-admin reconciliation [--run --reason WHY]
//! courier-admin rebuild [--order-id ORDER_ID] --reason WHY
//! courier-admin audit [--order-id ORDER_ID]
//! courier-admin token --role customer|shop|rider|operator --subject ID [--ttl-secs N]
//! ```
//! `COURIER_API_URL` (default `http://127.0.0.1:8080`) says where; `COURIER_OPERATOR_TOKEN` (or
//! `COURIER_OPERATOR_TOKEN_FILE`) as whom: an operator's JWT (the audit trail records its
//! subject) or the static development token. `token` signs a development JWT with
//! `COURIER_JWT_SECRET` and prints it (it talks to no server).

use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use crate::auth::{Role, issue};

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
        /// Run a reconciliation now (needs --reason).
        #[arg(long, requires = "reason")]
        run: bool,
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
    /// Print a development token signed with COURIER_JWT_SECRET.
    Token {
        #[arg(long, value_enum)]
        role: Role,
        /// The customer, shop, rider or operator it speaks for.
        #[arg(long)]
        subject: String,
        #[arg(long, default_value_t = 12 * 3600)]
        ttl_secs: u64,
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
    /// Why (recorded in the audit trail, with the operator the token names).
    #[arg(long)]
    pub reason: String,
}

/// Runs one command and returns the API's answer (status and JSON body).
pub async fn run(cli: Cli) -> anyhow::Result<(u16, Value)> {
    if let Command::Token {
        role,
        subject,
        ttl_secs,
    } = &cli.command
    {
        let secret = courier_runtime::settings::secret("COURIER_JWT_SECRET")?
            .ok_or_else(|| anyhow::anyhow!("set COURIER_JWT_SECRET to sign tokens"))?;
        let token = issue(&secret, *role, subject, Duration::from_secs(*ttl_secs))?;
        return Ok((200, Value::String(token)));
    }
    let token = match cli.token {
        Some(token) => token,
        None => courier_runtime::settings::secret("COURIER_OPERATOR_TOKEN")?
            .ok_or_else(|| anyhow::anyhow!("set COURIER_OPERATOR_TOKEN (or --token)"))?,
    };
    let base = cli.api.trim_end_matches('/').to_owned();
    let http = reqwest::Client::new();
    let intent_body = |i: &Intent| json!({ "reason": i.reason });
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
        Command::Reconciliation { run: true, reason } => http
            .post(format!("{base}/admin/reconciliation/run"))
            .json(&json!({ "reason": reason })),
        Command::Reconciliation { .. } => http.get(format!("{base}/admin/reconciliation")),
        Command::Audit { order_id } => {
            let mut request = http.get(format!("{base}/admin/audit"));
            if let Some(id) = order_id {
                request = request.query(&[("order_id", id)]);
            }
            request
        }
        Command::Token { .. } => unreachable!("answered above"),
    };
    let response = request.bearer_auth(token).send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, body))
}
