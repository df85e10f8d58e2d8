//! `POST /admin/read-model/rebuild`: re-projects orders from their workflows' own state, to restore
//! a lost or corrupted read model. Each order's row and timeline are replaced by the workflow's
//! view (its `status` query, or its result once completed).

use axum::Json;
use axum::extract::State;
use courier_workflows::OrderWorkflow;
use courier_workflows::order::OrderView;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use temporalio_client::{WorkflowGetResultOptions, WorkflowListOptions, WorkflowQueryOptions};
use temporalio_common::protos::temporal::api::enums::v1::WorkflowExecutionStatus;
use utoipa::ToSchema;
use uuid::Uuid;

use super::audit::audited;
use super::{AdminActionRequest, Intent, Operator};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Body;
use crate::read_model;
use crate::workflow::{execution_status, order_handle};
use courier_workflows::domain::OrderId;

const QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `POST /admin/read-model/rebuild`: who, why, and optionally one order.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RebuildReadModelRequest {
    #[serde(flatten)]
    pub intent: AdminActionRequest,
    /// Only this order (every order of this deployment when left out).
    #[schema(value_type = Option<Uuid>)]
    pub order_id: Option<String>,
}

/// An order the rebuild could not restore, and why.
#[derive(Serialize, ToSchema)]
pub struct RebuildFailure {
    pub order_id: Uuid,
    pub error: String,
}

/// What the rebuild did.
#[derive(Serialize, ToSchema)]
pub struct RebuildResult {
    pub rebuilt: u64,
    pub failed: Vec<RebuildFailure>,
    pub audit_id: i64,
}

/// Rebuild the read model from the workflows' own state (one order, or all of them).
#[utoipa::path(
    post, path = "/admin/read-model/rebuild", tag = "admin", operation_id = "rebuildReadModel",
    security(("bearerToken" = [])),
    request_body = RebuildReadModelRequest,
    responses(
        (status = 200, description = "Rebuilt (`failed` lists what could not be).", body = RebuildResult),
        (status = 401, description = "`unauthorized`: no token, or an invalid or expired one.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: a body over 64 KiB.", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an operator's token.", body = ErrorBody),
        (status = 422, description = "`invalid_request`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn rebuild(
    State(state): State<AppState>,
    operator: Operator,
    Body(body): Body<RebuildReadModelRequest>,
) -> ApiResult<Json<RebuildResult>> {
    let intent = Intent::new(operator, body.intent)?;
    let only = body
        .order_id
        .filter(|raw| !raw.is_empty())
        .map(|raw| {
            Uuid::parse_str(&raw)
                .map_err(|_| ApiError::invalid("order_id", "order_id must be a UUID"))
        })
        .transpose()?;
    let (audit_id, (rebuilt, failed)) =
        audited(&state, &intent, "rebuild_read_model", only, async {
            let ids = match only {
                Some(id) => vec![id],
                None => all_orders(&state).await?,
            };
            let mut rebuilt = 0;
            let mut failed = Vec::new();
            for id in ids {
                match rebuild_one(&state, id).await {
                    Ok(()) => rebuilt += 1,
                    Err(error) => failed.push(RebuildFailure {
                        order_id: id,
                        error,
                    }),
                }
            }
            let detail = json!({ "rebuilt": rebuilt, "failed": failed.len() });
            Ok(((rebuilt, failed), detail))
        })
        .await?;
    Ok(Json(RebuildResult {
        rebuilt,
        failed,
        audit_id,
    }))
}

/// Every order that has a workflow, running or closed.
async fn all_orders(state: &AppState) -> ApiResult<Vec<Uuid>> {
    let mut ids = Vec::new();
    // Only this deployment's task queue: a workflow no worker of ours polls could not answer.
    let query = format!(
        "WorkflowType = 'OrderWorkflow' AND TaskQueue = '{}'",
        state.settings.task_queue
    );
    let mut executions = state
        .temporal
        .list_workflows(query, WorkflowListOptions::builder().build());
    while let Some(execution) = executions.next().await {
        let execution = execution.map_err(|e| ApiError::internal("listing workflows", e))?;
        if let Some(id) = execution
            .id()
            .strip_prefix("order-")
            .and_then(|s| Uuid::parse_str(s).ok())
        {
            ids.push(id);
        }
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

async fn rebuild_one(state: &AppState, id: Uuid) -> Result<(), String> {
    let order_id = OrderId::new(id);
    let handle = order_handle(&state.temporal, order_id);
    let status = execution_status(&state.temporal, order_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no workflow in Temporal")?;
    // A completed workflow returned its final view; any other is asked (a closed one is replayed
    // by a worker to answer), within a bound so one unanswerable workflow cannot stall a rebuild.
    let view: OrderView = if status == WorkflowExecutionStatus::Completed {
        handle
            .get_result(WorkflowGetResultOptions::default())
            .await
            .map_err(|e| format!("no result from the workflow: {e}"))?
    } else {
        let query = handle.query(OrderWorkflow::status, (), WorkflowQueryOptions::default());
        match tokio::time::timeout(QUERY_TIMEOUT, query).await {
            Ok(Ok(view)) => view,
            Ok(Err(e)) => return Err(format!("the workflow did not answer its status query: {e}")),
            Err(_) => {
                return Err(format!(
                    "no worker answered the status query within {QUERY_TIMEOUT:?}"
                ));
            }
        }
    };
    read_model::replace(&state.db, &view)
        .await
        .map_err(|e| e.to_string())?;
    if status == WorkflowExecutionStatus::Terminated {
        read_model::mark_terminated(&state.db, id, "the workflow was terminated")
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
