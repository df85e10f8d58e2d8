//! `GET /admin/orders/stuck`: orders whose workflow is not progressing, and why.
//!
//! Four kinds, found from Temporal (visibility, then each running workflow's pending tasks) and
//! from the read model: a workflow task failing again and again (non-determinism, a panic after a
//! deploy), an activity failing attempt after attempt, a compensation waiting for an operator
//! (`NEEDS_ATTENTION`), and no status change for longer than the status should take.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use courier_workflows::OrderWorkflow;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use temporalio_client::{
    NamespacedClient, WorkflowDescribeOptions, WorkflowFetchHistoryOptions, WorkflowListOptions,
};
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// An activity is "failing" from this attempt on.
const FAILING_ATTEMPTS: i32 = 3;
/// How many running workflows one call inspects.
const SCAN_LIMIT: usize = 1000;

#[derive(Debug, Clone, Serialize)]
pub struct StuckOrder {
    pub order_id: Uuid,
    pub workflow_id: String,
    pub status: String,
    pub kind: &'static str,
    pub step: Option<String>,
    pub attempts: Option<i64>,
    pub last_error: Option<String>,
    pub since: DateTime<Utc>,
    pub temporal_ui_url: String,
}

/// How long an order may sit in a status before it counts as stuck.
fn expected_secs(status: &str) -> Option<i64> {
    Some(match status {
        "PAYMENT_PENDING" | "PAID" => 15 * 60,
        "ACCEPTED" | "RIDER_ASSIGNED" => 60 * 60,
        "READY" => 30 * 60,
        "PICKED_UP" => 90 * 60,
        "CANCELLING" => 10 * 60,
        _ => return None,
    })
}

fn rank(kind: &str) -> u8 {
    match kind {
        "workflow_task_failing" => 0,
        "activity_failing" => 1,
        "needs_attention" => 2,
        _ => 3,
    }
}

#[derive(Deserialize)]
pub struct StuckQuery {
    older_than_secs: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    order_id: Uuid,
    status: String,
    attention: Option<Value>,
    updated_at: DateTime<Utc>,
}

pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<StuckQuery>,
) -> ApiResult<Json<Value>> {
    let older_than = match query.older_than_secs.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(raw.parse::<i64>().ok().filter(|s| *s >= 0).ok_or_else(|| {
            ApiError::invalid(
                "older_than_secs",
                "older_than_secs must be a whole number of seconds",
            )
        })?),
    };
    let now = Utc::now();
    let ui = |id: Uuid| {
        format!(
            "{}/namespaces/{}/workflows/order-{id}",
            state.settings.temporal_ui_url.trim_end_matches('/'),
            state.temporal.namespace()
        )
    };
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT order_id, status, attention, updated_at FROM orders.orders \
         WHERE status NOT IN ('DELIVERED', 'REJECTED', 'CANCELLED', 'PAYMENT_DECLINED', 'OUT_OF_STOCK', 'PAYMENT_FAILED')",
    )
    .fetch_all(&state.db)
    .await?;
    let rows: BTreeMap<Uuid, Row> = rows.into_iter().map(|r| (r.order_id, r)).collect();
    let mut stuck: BTreeMap<Uuid, StuckOrder> = BTreeMap::new();
    let mut note = |order: StuckOrder| {
        let better = stuck
            .get(&order.order_id)
            .is_none_or(|seen| rank(order.kind) < rank(seen.kind));
        if better {
            stuck.insert(order.order_id, order);
        }
    };

    for (id, row) in &rows {
        let base = StuckOrder {
            order_id: *id,
            workflow_id: format!("order-{id}"),
            status: row.status.clone(),
            kind: "no_progress",
            step: None,
            attempts: None,
            last_error: None,
            since: row.updated_at,
            temporal_ui_url: ui(*id),
        };
        if row.status == "NEEDS_ATTENTION" {
            let attention = row.attention.clone().unwrap_or(Value::Null);
            note(StuckOrder {
                kind: "needs_attention",
                step: attention["step"].as_str().map(str::to_owned),
                attempts: attention["attempts"].as_i64(),
                last_error: attention["error"].as_str().map(str::to_owned),
                ..base
            });
        } else if let Some(limit) = older_than.or_else(|| expected_secs(&row.status))
            && (now - row.updated_at).num_seconds() >= limit
        {
            note(base);
        }
    }

    let mut running = state.temporal.list_workflows(
        format!(
            "WorkflowType = 'OrderWorkflow' AND ExecutionStatus = 'Running' AND TaskQueue = '{}'",
            state.settings.task_queue
        ),
        WorkflowListOptions::builder().limit(SCAN_LIMIT).build(),
    );
    while let Some(execution) = running.next().await {
        let execution =
            execution.map_err(|e| ApiError::internal("listing running workflows", e))?;
        let Some(id) = execution
            .id()
            .strip_prefix("order-")
            .and_then(|s| Uuid::parse_str(s).ok())
        else {
            continue;
        };
        let handle = state
            .temporal
            .get_workflow_handle::<OrderWorkflow>(execution.id().to_owned());
        let Ok(description) = handle.describe(WorkflowDescribeOptions::default()).await else {
            continue;
        };
        let raw = description.raw_description;
        let status = rows
            .get(&id)
            .map_or_else(|| "UNKNOWN".to_owned(), |r| r.status.clone());
        let since = rows.get(&id).map_or(now, |r| r.updated_at);
        if let Some(task) = raw.pending_workflow_task.as_ref().filter(|t| t.attempt > 1) {
            let last_error = last_workflow_task_failure(&handle).await;
            note(StuckOrder {
                order_id: id,
                workflow_id: execution.id().to_owned(),
                status: status.clone(),
                kind: "workflow_task_failing",
                step: Some("workflow task".to_owned()),
                attempts: Some(i64::from(task.attempt)),
                last_error,
                since,
                temporal_ui_url: ui(id),
            });
        }
        for activity in raw
            .pending_activities
            .iter()
            .filter(|a| a.attempt >= FAILING_ATTEMPTS)
        {
            note(StuckOrder {
                order_id: id,
                workflow_id: execution.id().to_owned(),
                status: status.clone(),
                kind: "activity_failing",
                step: activity.activity_type.as_ref().map(|t| t.name.clone()),
                attempts: Some(i64::from(activity.attempt)),
                last_error: activity.last_failure.as_ref().map(|f| f.message.clone()),
                since,
                temporal_ui_url: ui(id),
            });
        }
    }
    let orders: Vec<StuckOrder> = stuck.into_values().collect();
    Ok(Json(json!({ "orders": orders })))
}

/// The message of the workflow's last failed workflow task (a panic, a non-determinism error).
async fn last_workflow_task_failure(
    handle: &temporalio_client::WorkflowHandle<temporalio_client::Client, OrderWorkflow>,
) -> Option<String> {
    let events = handle
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await
        .ok()?;
    events
        .iter()
        .rev()
        .filter(|e| e.event_type() == EventType::WorkflowTaskFailed)
        .find_map(|e| match &e.attributes {
            Some(Attributes::WorkflowTaskFailedEventAttributes(failed)) => {
                failed.failure.as_ref().map(|f| f.message.clone())
            }
            _ => None,
        })
}
