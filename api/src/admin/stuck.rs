//! `GET /admin/orders/stuck`: orders whose workflow is not progressing, and why.
//!
//! Four kinds, worst first: a workflow task failing again and again (non-determinism, a panic after
//! a deploy), a step failing attempt after attempt (an activity, local or not, from its third
//! attempt), a compensation waiting for an operator (`NEEDS_ATTENTION`), and no status change for
//! longer than the status should take. The first two come from `operations.failing_steps`, which
//! the workers fill as it happens; the others from the read model. Nothing scans Temporal, so the
//! answer stays fast however many orders are open; only the few failing workflows are described, to
//! drop rows whose workflow has since ended or recovered.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use courier_workflows::OrderWorkflow;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use temporalio_client::{NamespacedClient, WorkflowDescribeOptions};
use temporalio_common::protos::temporal::api::enums::v1::WorkflowExecutionStatus;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Query;
use utoipa::{IntoParams, ToSchema};

/// What a failing workflow task is called in `operations.failing_steps` (the worker's name).
const WORKFLOW_TASK: &str = "workflow task";
/// How many orders one answer lists at most, and by default.
const MAX_LIMIT: i64 = 1000;
/// The oldest age asked about: ten years.
const MAX_AGE_SECS: i64 = 10 * 365 * 24 * 3600;
const DEFAULT_LIMIT: i64 = 100;
/// Failing workflows described at once to check they still fail.
const DESCRIBE_CONCURRENCY: usize = 16;

/// An order that is not progressing, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StuckOrder {
    pub order_id: Uuid,
    pub workflow_id: String,
    /// Its status in the read model (`UNKNOWN` if it has none).
    pub status: String,
    /// Worst first: `workflow_task_failing`, `activity_failing`, `needs_attention`, `no_progress`.
    #[schema(value_type = String, pattern = "^(workflow_task_failing|activity_failing|needs_attention|no_progress)$")]
    pub kind: &'static str,
    pub step: Option<String>,
    pub attempts: Option<i64>,
    pub last_error: Option<String>,
    pub since: DateTime<Utc>,
    pub temporal_ui_url: String,
}

fn rank(kind: &str) -> u8 {
    match kind {
        "workflow_task_failing" => 0,
        "activity_failing" => 1,
        "needs_attention" => 2,
        _ => 3,
    }
}

/// `?older_than_secs=&limit=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StuckQuery {
    /// Only orders stuck for at least this long (seconds, at most ten years).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 315_360_000)]
    older_than_secs: Option<String>,
    /// At most this many (1 to 1000; 100 when left out).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

/// `GET /admin/orders/stuck`.
#[derive(Serialize, ToSchema)]
pub struct StuckOrders {
    /// Worst kind first, then longest stuck.
    pub orders: Vec<StuckOrder>,
    /// More were stuck than `limit`.
    pub truncated: bool,
}

#[derive(sqlx::FromRow)]
struct FailingRow {
    workflow_id: String,
    order_id: Uuid,
    step: String,
    attempts: i32,
    last_error: String,
    first_failed_at: DateTime<Utc>,
    status: Option<String>,
    updated_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    order_id: Uuid,
    status: String,
    attention: Option<Value>,
    updated_at: DateTime<Utc>,
}

/// Orders whose workflow is not progressing, and why, with links to the Temporal UI.
#[utoipa::path(
    get, path = "/admin/orders/stuck", tag = "admin", operation_id = "listStuckOrders",
    security(("bearerToken" = [])),
    params(StuckQuery),
    responses(
        (status = 200, description = "The stuck orders.", body = StuckOrders),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an operator's token.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a malformed limit or age.", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<StuckQuery>,
) -> ApiResult<Json<StuckOrders>> {
    let older_than = match query.older_than_secs.as_deref() {
        None => None,
        Some(raw) => Some(
            raw.parse::<i64>()
                .ok()
                .filter(|s| (0..=MAX_AGE_SECS).contains(s))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "older_than_secs",
                        "older_than_secs must be a whole number of seconds, at most ten years",
                    )
                })?,
        ),
    };
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                ApiError::invalid("limit", format!("limit must be between 1 and {MAX_LIMIT}"))
            })?,
    };
    let ui = |id: Uuid| {
        format!(
            "{}/namespaces/{}/workflows/order-{id}",
            state.settings.temporal_ui_url.trim_end_matches('/'),
            state.temporal.namespace()
        )
    };

    let mut stuck: Vec<StuckOrder> = failing(&state, limit)
        .await?
        .into_iter()
        .map(|row| StuckOrder {
            order_id: row.order_id,
            workflow_id: row.workflow_id,
            status: row.status.unwrap_or_else(|| "UNKNOWN".to_owned()),
            kind: if row.step == WORKFLOW_TASK {
                "workflow_task_failing"
            } else {
                "activity_failing"
            },
            step: Some(row.step),
            attempts: Some(i64::from(row.attempts)),
            last_error: Some(row.last_error),
            since: row.updated_at.unwrap_or(row.first_failed_at),
            temporal_ui_url: ui(row.order_id),
        })
        .collect();

    // Orders waiting for an operator, then orders sitting in a status longer than it should take
    // (15 min to 90 min by status, or `older_than_secs`).
    let rows: Vec<OrderRow> = sqlx::query_as(
        "(SELECT order_id, status, attention, updated_at FROM orders.orders \
          WHERE status = 'NEEDS_ATTENTION' ORDER BY updated_at LIMIT $2) \
         UNION ALL \
         (SELECT order_id, status, attention, updated_at FROM orders.orders \
          WHERE status NOT IN ('DELIVERED', 'REJECTED', 'CANCELLED', 'PAYMENT_DECLINED', \
                               'OUT_OF_STOCK', 'PAYMENT_FAILED', 'NEEDS_ATTENTION') \
            AND updated_at <= now() - make_interval(secs => COALESCE($1, CASE status \
                WHEN 'PAYMENT_PENDING' THEN 900 WHEN 'PAID' THEN 900 \
                WHEN 'ACCEPTED' THEN 3600 WHEN 'RIDER_ASSIGNED' THEN 3600 \
                WHEN 'READY' THEN 1800 WHEN 'PICKED_UP' THEN 5400 WHEN 'CANCELLING' THEN 600 END)) \
          ORDER BY updated_at LIMIT $2)",
    )
    .bind(older_than.map(|s| s as f64))
    .bind(limit + 1)
    .fetch_all(&state.db)
    .await?;
    for row in rows {
        if stuck.iter().any(|s| s.order_id == row.order_id) {
            continue;
        }
        let attention = row.attention.unwrap_or(Value::Null);
        let waiting = row.status == "NEEDS_ATTENTION";
        stuck.push(StuckOrder {
            order_id: row.order_id,
            workflow_id: format!("order-{}", row.order_id),
            status: row.status,
            kind: if waiting {
                "needs_attention"
            } else {
                "no_progress"
            },
            step: waiting
                .then(|| attention["step"].as_str().map(str::to_owned))
                .flatten(),
            attempts: waiting.then(|| attention["attempts"].as_i64()).flatten(),
            last_error: waiting
                .then(|| attention["error"].as_str().map(str::to_owned))
                .flatten(),
            since: row.updated_at,
            temporal_ui_url: ui(row.order_id),
        });
    }
    stuck.sort_by_key(|s| (rank(s.kind), s.since));
    let truncated = stuck.len() as i64 > limit;
    stuck.truncate(limit as usize);
    Ok(Json(StuckOrders {
        orders: stuck,
        truncated,
    }))
}

/// The failing steps of order workflows that are still running and still failing; rows of
/// workflows that ended, or whose workflow task has since succeeded on another worker, are
/// removed on the way.
async fn failing(state: &AppState, limit: i64) -> ApiResult<Vec<FailingRow>> {
    // A failure older than the order's last status change is over: the step succeeded since (its
    // retry was scheduled anew), or its retries ran out and the order waits for an operator.
    sqlx::query(
        "DELETE FROM operations.failing_steps f USING orders.orders o \
         WHERE o.order_id = f.order_id AND o.updated_at > f.last_failed_at",
    )
    .execute(&state.db)
    .await?;
    let rows: Vec<FailingRow> = sqlx::query_as(
        "SELECT f.workflow_id, f.order_id, f.step, f.attempts, f.last_error, f.first_failed_at, \
           o.status, o.updated_at \
         FROM operations.failing_steps f LEFT JOIN orders.orders o USING (order_id) \
         WHERE f.workflow_id LIKE 'order-%' AND f.order_id IS NOT NULL \
         ORDER BY f.first_failed_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&state.db)
    .await?;
    let checked: Vec<(FailingRow, Option<Option<i32>>)> = futures::stream::iter(rows)
        .map(|row| async move {
            let current = still_failing(state, &row).await;
            (row, current)
        })
        .buffered(DESCRIBE_CONCURRENCY)
        .collect()
        .await;
    let mut current = Vec::new();
    for (mut row, still) in checked {
        if let Some(attempts) = still {
            // A workflow task counts as failing from its second attempt, as Temporal counts them.
            match attempts {
                Some(attempt) if attempt > 1 => row.attempts = attempt,
                Some(_) => continue,
                None => {}
            }
            current.push(row);
        } else {
            sqlx::query(
                "DELETE FROM operations.failing_steps WHERE workflow_id = $1 AND step = $2",
            )
            .bind(&row.workflow_id)
            .bind(&row.step)
            .execute(&state.db)
            .await?;
        }
    }
    Ok(current)
}

/// Whether the row still describes the workflow (`None`: it does not): it runs, and for a workflow
/// task, the attempt Temporal is at (`Some(attempt)`). Local activities never show in a
/// description, so an activity row stands while its workflow runs. When Temporal cannot say, the
/// row stands.
async fn still_failing(state: &AppState, row: &FailingRow) -> Option<Option<i32>> {
    let handle = state
        .temporal
        .get_workflow_handle::<OrderWorkflow>(row.workflow_id.clone());
    let described = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        handle.describe(WorkflowDescribeOptions::default()),
    )
    .await;
    let Ok(Ok(description)) = described else {
        return Some(None);
    };
    let raw = description.raw_description;
    let running = raw
        .workflow_execution_info
        .as_ref()
        .is_some_and(|info| info.status() == WorkflowExecutionStatus::Running);
    if !running {
        return None;
    }
    if row.step != WORKFLOW_TASK {
        return Some(None);
    }
    Some(Some(raw.pending_workflow_task.map_or(0, |t| t.attempt)))
}
