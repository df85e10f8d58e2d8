//! What an operator can do to one order: retry a step that waits for them, restart the workflow
//! from its last good workflow task, cancel it with compensation, or terminate it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use courier_workflows::OrderCompensationWorkflow;
use courier_workflows::OrderWorkflow;
use courier_workflows::codes::ErrorCode;
use courier_workflows::compensation_workflow::{
    CompensationOrder, CompensationReport, StepOutcome,
};
use courier_workflows::domain::OrderId;
use courier_workflows::order::{Cancellation, OrderRequest, OrderStatus};
use serde::Serialize;
use serde_json::json;
use temporalio_client::errors::{WorkflowInteractionError, WorkflowStartError};
use temporalio_client::tonic::IntoRequest;
use temporalio_client::{
    NamespacedClient, WorkflowCancelOptions, WorkflowFetchHistoryOptions, WorkflowGetResultOptions,
    WorkflowSignalOptions, WorkflowStartOptions, WorkflowTerminateOptions,
};
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::enums::v1::{EventType, WorkflowExecutionStatus};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::workflowservice::v1::ResetWorkflowExecutionRequest;
use utoipa::ToSchema;

use super::audit::{audited, audited_with_outcome};
use super::{AdminActionAccepted, AdminActionRequest, Intent, Operator};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, Path};
use crate::read_model::{self, OrderDetails};
use crate::routes::orders::order_id;
use crate::workflow::{execution_status, order_handle};

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, ErrorCode::InvalidTransition, message)
}

/// What every action on one order may answer besides its success.
#[derive(utoipa::IntoResponses)]
#[allow(
    dead_code,
    reason = "it only describes answers in the OpenAPI description"
)]
pub enum OrderActionErrors {
    /// `unauthorized`
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// `order_not_found`
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// `invalid_transition`: the order's workflow is not in a state for this action.
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// `forbidden`: not an operator's token.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// `payload_too_large`: a body over 64 KiB.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// `invalid_request`: no reason.
    #[response(status = 422)]
    Invalid(ErrorBody),
    /// `internal`
    #[response(status = 500)]
    Internal(ErrorBody),
}

fn temporal_error(context: &str, err: impl std::fmt::Display) -> ApiError {
    ApiError::internal(context, err)
}

/// A call to a workflow that closed after `require_running` saw it run (its compensation finished
/// in between): the order no longer runs, a `409` like any other action on an ended order.
fn interaction_error(context: &str, err: WorkflowInteractionError) -> ApiError {
    match err {
        WorkflowInteractionError::NotFound(_) => {
            conflict("the order's workflow is no longer running")
        }
        err => temporal_error(context, err),
    }
}

/// The order (from the read model) and the admin intent, or the caller's error.
async fn prepare(
    state: &AppState,
    raw: &str,
    operator: Operator,
    body: AdminActionRequest,
) -> ApiResult<(OrderId, OrderDetails, Intent)> {
    let intent = Intent::new(operator, body)?;
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

fn accepted(
    order_id: OrderId,
    action: &str,
    audit_id: i64,
    run_id: Option<String>,
) -> (StatusCode, Json<AdminActionAccepted>) {
    let body = AdminActionAccepted {
        order_id: order_id.uuid(),
        action: action.to_owned(),
        audit_id,
        run_id,
    };
    (StatusCode::ACCEPTED, Json(body))
}

/// Retry the step an order waits on (`NEEDS_ATTENTION`): sends the workflow `retry`.
#[utoipa::path(
    post, path = "/admin/orders/{order_id}/retry", tag = "admin", operation_id = "retryOrder",
    security(("bearerToken" = [])),
    params(("order_id" = String, Path, description = "The order's id (a UUID)")),
    request_body = AdminActionRequest,
    responses(
        (status = 202, description = "Sent.", body = AdminActionAccepted),
        OrderActionErrors,
    )
)]
pub async fn retry(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    operator: Operator,
    Body(body): Body<AdminActionRequest>,
) -> ApiResult<Response> {
    let (order_id, order, intent) = prepare(&state, &raw, operator, body).await?;
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
            .map_err(|e| interaction_error("signalling retry", e))?;
        Ok(((), json!({ "step": order.attention })))
    })
    .await?;
    Ok(accepted(order_id, "retry", audit_id, None).into_response())
}

/// Restart an order's workflow from its last completed workflow task, so a fixed worker runs
/// the rest again (its activities are idempotent); signals and updates received after that
/// point are reapplied.
#[utoipa::path(
    post, path = "/admin/orders/{order_id}/restart", tag = "admin", operation_id = "restartOrder",
    security(("bearerToken" = [])),
    params(("order_id" = String, Path, description = "The order's id (a UUID)")),
    request_body = AdminActionRequest,
    responses(
        (status = 202, description = "Reset; `run_id` is the new run.", body = AdminActionAccepted),
        OrderActionErrors,
    )
)]
pub async fn restart(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    operator: Operator,
    Body(body): Body<AdminActionRequest>,
) -> ApiResult<Response> {
    let (order_id, _order, intent) = prepare(&state, &raw, operator, body).await?;
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
    Ok(accepted(order_id, "restart", audit_id, Some(run_id)).into_response())
}

/// Cancel an order with compensation, whatever its stage: the operator's reason goes to the
/// workflow as a `cancel` signal, then the workflow is cancelled in Temporal (which
/// compensates even after pickup).
#[utoipa::path(
    post, path = "/admin/orders/{order_id}/cancel", tag = "admin", operation_id = "adminCancelOrder",
    security(("bearerToken" = [])),
    params(("order_id" = String, Path, description = "The order's id (a UUID)")),
    request_body = AdminActionRequest,
    responses(
        (status = 202, description = "Sent; follow the order.", body = AdminActionAccepted),
        OrderActionErrors,
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    operator: Operator,
    Body(body): Body<AdminActionRequest>,
) -> ApiResult<Response> {
    let (order_id, _order, intent) = prepare(&state, &raw, operator, body).await?;
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
            .map_err(|e| interaction_error("signalling cancel", e))?;
        handle
            .cancel(
                WorkflowCancelOptions::builder()
                    .reason(cancellation.reason.clone())
                    .build(),
            )
            .await
            .map_err(|e| interaction_error("cancelling the workflow", e))?;
        Ok(((), json!({})))
    })
    .await?;
    Ok(accepted(order_id, "cancel", audit_id, None).into_response())
}

/// Terminate an order's workflow: the last resort. It stops at once, compensating nothing; the
/// order is marked `NEEDS_ATTENTION` in the read model so it is never silently gone (then
/// `compensate` undoes what it did).
#[utoipa::path(
    post, path = "/admin/orders/{order_id}/terminate", tag = "admin", operation_id = "terminateOrder",
    security(("bearerToken" = [])),
    params(("order_id" = String, Path, description = "The order's id (a UUID)")),
    request_body = AdminActionRequest,
    responses(
        (status = 200, description = "Terminated: the order as it now is.", body = OrderDetails),
        OrderActionErrors,
    )
)]
pub async fn terminate(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    operator: Operator,
    Body(body): Body<AdminActionRequest>,
) -> ApiResult<Response> {
    let (order_id, _order, intent) = prepare(&state, &raw, operator, body).await?;
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
            .map_err(|e| interaction_error("terminating the workflow", e))?;
        read_model::mark_terminated(&state.db, order_id.uuid(), &reason).await?;
        Ok(((), json!({})))
    })
    .await?;
    let order = read_model::order(&state.db, order_id.uuid())
        .await?
        .ok_or_else(ApiError::order_not_found)?;
    Ok(Json(order).into_response())
}

/// `200`/`207`: what each undo step of `compensate` did.
#[derive(Serialize, ToSchema)]
pub struct CompensationResult {
    pub order_id: uuid::Uuid,
    /// `compensate`.
    pub action: String,
    pub audit_id: i64,
    /// `CANCELLED` when every step succeeded; `NEEDS_ATTENTION` otherwise.
    pub status: OrderStatus,
    pub steps: Vec<StepOutcome>,
}

/// Compensate an order whose workflow was terminated or failed (it can no longer undo
/// anything itself): runs every undo step of the saga with the same idempotent activities, in
/// a workflow of its own, and answers what each step did. If all succeeded the order ends
/// `CANCELLED` (the customer is told); otherwise it stays `NEEDS_ATTENTION`, the audit entry is
/// `partial`, and the action can be repeated.
#[utoipa::path(
    post, path = "/admin/orders/{order_id}/compensate", tag = "admin", operation_id = "compensateOrder",
    security(("bearerToken" = [])),
    params(("order_id" = String, Path, description = "The order's id (a UUID)")),
    request_body = AdminActionRequest,
    responses(
        (status = 200, description = "Every step succeeded: `CANCELLED`.", body = CompensationResult),
        (status = 207, description = "Some steps failed: still `NEEDS_ATTENTION`; repeat later.", body = CompensationResult),
        (status = 504, description = "`compensation_running`: still running after two minutes; see the audit trail.", body = ErrorBody),
        OrderActionErrors,
    )
)]
pub async fn compensate(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    operator: Operator,
    Body(body): Body<AdminActionRequest>,
) -> ApiResult<Response> {
    let (order_id, _order, intent) = prepare(&state, &raw, operator, body).await?;
    let reason = format!(
        "compensated by operator {}: {}",
        intent.operator, intent.reason
    );
    let (audit_id, report) = audited_with_outcome(
        &state,
        &intent,
        "compensate",
        Some(order_id.uuid()),
        async {
            let status = execution_status(&state.temporal, order_id)
                .await
                .map_err(|e| temporal_error("describing a workflow", e))?;
            match status {
                Some(
                    WorkflowExecutionStatus::Terminated
                    | WorkflowExecutionStatus::Failed
                    | WorkflowExecutionStatus::TimedOut,
                ) => {}
                Some(WorkflowExecutionStatus::Running) => {
                    return Err(conflict(
                        "the order's workflow runs and compensates by itself: cancel it instead",
                    ));
                }
                Some(other) => {
                    return Err(conflict(format!(
                        "the order's workflow ended {}; there is nothing to compensate",
                        other.as_str_name()
                    )));
                }
                None => return Err(conflict("the order has no workflow in Temporal")),
            }
            let request = placed_request(&state, order_id).await?;
            let view = courier_runtime::read_model::view(&state.db, order_id.uuid())
                .await?
                .ok_or_else(ApiError::order_not_found)?;
            let order = CompensationOrder {
                request,
                view,
                reason: reason.clone(),
            };
            // One compensation of an order at a time: a second operator's start while one runs
            // is refused (the id is taken); once it has closed, the action can be repeated.
            let workflow_id = format!("compensate-{order_id}");
            let handle = state
                .temporal
                .start_workflow(
                    OrderCompensationWorkflow::run,
                    order,
                    WorkflowStartOptions::new(state.settings.task_queue.clone(), workflow_id)
                        .build(),
                )
                .await
                .map_err(|e| match e {
                    WorkflowStartError::AlreadyStarted { .. } => {
                        conflict("another compensation of this order is running")
                    }
                    e => temporal_error("starting the compensation", e),
                })?;
            let report: CompensationReport = tokio::time::timeout(
                COMPENSATION_WAIT,
                handle.get_result(WorkflowGetResultOptions::default()),
            )
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    ErrorCode::CompensationRunning,
                    "the compensation is still running; see the audit trail and the order",
                )
            })?
            .map_err(|e| temporal_error("compensating", e))?;
            let outcome = if report.status == OrderStatus::Cancelled {
                "ok"
            } else {
                "partial"
            };
            let detail = json!({ "steps": report.steps, "status": report.status });
            Ok((report, detail, outcome))
        },
    )
    .await?;
    let code = if report.status == OrderStatus::Cancelled {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    let result = CompensationResult {
        order_id: order_id.uuid(),
        action: "compensate".to_owned(),
        audit_id,
        status: report.status,
        steps: report.steps,
    };
    Ok((code, Json(result)).into_response())
}

/// How long `compensate` waits for its workflow.
const COMPENSATION_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// The order as it was placed: the input its workflow was started with, from its history.
async fn placed_request(state: &AppState, order_id: OrderId) -> ApiResult<OrderRequest> {
    let events = order_handle(&state.temporal, order_id)
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await
        .map_err(|e| temporal_error("reading the workflow's history", e))?;
    let payload = events
        .iter()
        .find_map(|e| match &e.attributes {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(started)) => started
                .input
                .as_ref()
                .and_then(|input| input.payloads.first().cloned()),
            _ => None,
        })
        .ok_or_else(|| ApiError::internal("compensating", "the workflow has no input"))?;
    serde_json::from_slice(&payload.data)
        .map_err(|e| ApiError::internal("reading the order's workflow input", e))
}
