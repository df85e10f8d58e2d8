//! Looking behind the API: the provider's ledger, Courier's tables, the workflow, the messages
//! that were sent.

use anyhow::bail;
use reqwest::StatusCode;
use serde_json::Value;

use crate::client::read;
use crate::*;

/// An email as Mailpit received it.
#[derive(Debug, Clone)]
pub struct ReceivedEmail {
    pub id: String,
    pub subject: String,
    pub to: Vec<String>,
    pub message_id: String,
}

impl TestApp {
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

    /// The order's workflow history so far, as Temporal's JSON (payloads base64-encoded).
    pub async fn history_json(&self, order_id: &str) -> anyhow::Result<Vec<u8>> {
        Ok(self
            .temporal
            .get_workflow_handle::<courier_workflows::OrderWorkflow>(format!("order-{order_id}"))
            .fetch_history(temporalio_client::WorkflowFetchHistoryOptions::default())
            .to_json()
            .await?)
    }

    /// Every row of every table of Courier's database, as text, one line per row (to search
    /// for what must never be stored).
    pub async fn every_row(&self) -> anyhow::Result<Vec<String>> {
        let tables: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_schema, table_name FROM information_schema.tables \
             WHERE table_type = 'BASE TABLE' \
               AND table_schema NOT IN ('pg_catalog', 'information_schema')",
        )
        .fetch_all(&self.db)
        .await?;
        anyhow::ensure!(tables.len() > 5, "only {} tables found", tables.len());
        let mut rows = Vec::new();
        for (schema, table) in tables {
            let text: Vec<String> =
                sqlx::query_scalar(&format!("SELECT t::text FROM \"{schema}\".\"{table}\" t"))
                    .fetch_all(&self.db)
                    .await?;
            rows.extend(
                text.into_iter()
                    .map(|row| format!("{schema}.{table}: {row}")),
            );
        }
        Ok(rows)
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
        let json = self.history_json(order_id).await?;
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
}
