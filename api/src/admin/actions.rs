//! What an operator can do to one order: retry a step that waits for them, restart the workflow
//! from its last good workflow task, cancel it with compensation, or terminate it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use courier_workflows::OrderWorkflow;
use courier_workflows::domain::OrderId;
use courier_workflows::order::{Cancellation, OrderStatus};
use serde_json::{Value, json};
use temporalio_client::tonic::IntoRequest;
use temporalio_client::{
    NamespacedClient, WorkflowCancelOptions, WorkflowFetchHistoryOptions, WorkflowSignalOptions,
    WorkflowTerminateOptions,
};
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::enums::v1::{EventType, WorkflowExecutionStatus};
use temporalio_common::protos::temporal::api::workflowservice::v1::ResetWorkflowExecutionRequest;

use super::audit::audited;
use super::{Intent, intent};
use crate::AppState;
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::read_model;
use crate::routes::orders::order_id;
use crate::workflow::{execution_status, order_handle};

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "invalid_transition", message)
}

fn temporal_error(context: &str, err: impl std::fmt::Display) -> ApiError {
    ApiError::internal(context, err)
}

/// The order (from the read model) and the admin intent, or the caller's error.
async fn prepare(
    state: &AppState,
    raw: &str,
    body: &Value,
) -> ApiResult<(OrderId, read_model::OrderDetails, Intent)> {
    let intent = intent(body)?;
    let order_id = order_id(raw)?;
    let order = read_model::order(&state.db, order_id.uuid())
        .await?
        .ok_or_else(ApiError::order_not_found)?;
    Ok((order_id, order, intent))
}

async fn require_running(state: &AppState, order_id: OrderId) -> ApiResult<()> {
    let status = execution_status(&state.temporal, order_id)
        .await
        .map_err(|e| temporal_error("describing a workflow", e))?;
    match status {
        Some(WorkflowExecutionStatus::Running) => Ok(()),
        Some(status) => Err(conflict(format!(
            "the order's workflow is not running ({})",
            status.as_str_name()
        ))),
        None => Err(conflict("the order has no workflow in Temporal")),
    }
}

fn accepted(order_id: OrderId, action: &str, audit_id: i64, extra: Value) -> Response {
    let mut body = json!({ "order_id": order_id, "action": action, "audit_id": audit_id });
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// `POST /admin/orders/{id}/retry`: sends `retry` to a workflow whose compensation waits for an
/// operator (`NEEDS_ATTENTION`).
pub async fn retry(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let (order_id, order, intent) = prepare(&state, &raw, &body).await?;
    let (audit_id, ()) = audited(&state, &intent, "retry", Some(order_id.uuid()), async {
        if order.status != OrderStatus::NeedsAttention.as_str() {
            return Err(conflict(format!(
                "the order does not wait for an operator; it is {}",
                order.status
            )));
        }
        require_running(&state, order_id).await?;
        order_handle(&state.temporal, order_id)
            .signal(OrderWorkflow::retry, (), WorkflowSignalOptions::default())
            .await
            .map_err(|e| temporal_error("signalling retry", e))?;
        Ok(((), json!({ "step": order.attention })))
    })
    .await?;
    Ok(accepted(order_id, "retry", audit_id, json!({})))
}

/// `POST /admin/orders/{id}/restart`: resets the workflow to its last completed workflow task, so a
/// fixed worker runs the rest again (its activities are idempotent). Signals and updates received
/// after that point are reapplied.
pub async fn restart(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let (order_id, _order, intent) = prepare(&state, &raw, &body).await?;
    let reason = format!("{}: {}", intent.operator, intent.reason);
    let (audit_id, run_id) = audited(&state, &intent, "restart", Some(order_id.uuid()), async {
        require_running(&state, order_id).await?;
        let handle = order_handle(&state.temporal, order_id);
        let events = handle
            .fetch_history(WorkflowFetchHistoryOptions::default())
            .into_events()
            .await
            .map_err(|e| temporal_error("reading the workflow's history", e))?;
        let last_good = events
            .iter()
            .rev()
            .find(|e| e.event_type() == EventType::WorkflowTaskCompleted)
            .map(|e| e.event_id)
            .ok_or_else(|| {
                conflict("the workflow has no completed workflow task to restart from")
            })?;
        let mut service = state.temporal.connection().workflow_service();
        let reset = service
            .reset_workflow_execution(
                ResetWorkflowExecutionRequest {
                    namespace: state.temporal.namespace(),
                    workflow_execution: Some(WorkflowExecution {
                        workflow_id: order_id.workflow_id(),
                        run_id: String::new(),
                    }),
                    reason: reason.clone(),
                    workflow_task_finish_event_id: last_good,
                    request_id: uuid::Uuid::new_v4().to_string(),
                    ..Default::default()
                }
                .into_request(),
            )
            .await
            .map_err(|e| temporal_error("resetting the workflow", e.message().to_owned()))?
            .into_inner();
        Ok((
            reset.run_id.clone(),
            json!({ "reset_to_event": last_good, "run_id": reset.run_id }),
        ))
    })
    .await?;
    Ok(accepted(
        order_id,
        "restart",
        audit_id,
        json!({ "run_id": run_id }),
    ))
}

/// `POST /admin/orders/{id}/cancel`: cancels the order with compensation, whatever its stage: the
/// operator's reason goes to the workflow as a `cancel` signal, then the workflow itself is
/// cancelled in Temporal (which compensates even after pickup).
pub async fn cancel(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let (order_id, _order, intent) = prepare(&state, &raw, &body).await?;
    let (audit_id, ()) = audited(&state, &intent, "cancel", Some(order_id.uuid()), async {
        require_running(&state, order_id).await?;
        let handle = order_handle(&state.temporal, order_id);
        let cancellation = Cancellation {
            reason: format!(
                "cancelled by operator {}: {}",
                intent.operator, intent.reason
            ),
        };
        handle
            .signal(
                OrderWorkflow::cancel,
                cancellation.clone(),
                WorkflowSignalOptions::default(),
            )
            .await
            .map_err(|e| temporal_error("signalling cancel", e))?;
        handle
            .cancel(
                WorkflowCancelOptions::builder()
                    .reason(cancellation.reason.clone())
                    .build(),
            )
            .await
            .map_err(|e| temporal_error("cancelling the workflow", e))?;
        Ok(((), json!({})))
    })
    .await?;
    Ok(accepted(order_id, "cancel", audit_id, json!({})))
}

/// `POST /admin/orders/{id}/terminate`: the last resort. The workflow stops at once, compensating
/// nothing; the order is marked `NEEDS_ATTENTION` in the read model (the API writes it here, as the
/// workflow can no longer speak for the order), so it is never silently gone.
pub async fn terminate(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let (order_id, _order, intent) = prepare(&state, &raw, &body).await?;
    let reason = format!(
        "terminated by operator {}: {}",
        intent.operator, intent.reason
    );
    audited(&state, &intent, "terminate", Some(order_id.uuid()), async {
        require_running(&state, order_id).await?;
        order_handle(&state.temporal, order_id)
            .terminate(
                WorkflowTerminateOptions::builder()
                    .reason(reason.clone())
                    .build(),
            )
            .await
            .map_err(|e| temporal_error("terminating the workflow", e))?;
        read_model::mark_terminated(&state.db, order_id.uuid(), &reason).await?;
        Ok(((), json!({})))
    })
    .await?;
    let order = read_model::order(&state.db, order_id.uuid())
        .await?
        .ok_or_else(ApiError::order_not_found)?;
    Ok(Json(order).into_response())
}
