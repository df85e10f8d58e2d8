//! What an operator can do to one order: retry a step that waits for them, restart the workflow
//! from its last good workflow task, cancel it with compensation, or terminate it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use courier_workflows::OrderCompensationWorkflow;
use courier_workflows::OrderWorkflow;
use courier_workflows::compensation_workflow::{CompensationOrder, CompensationReport};
use courier_workflows::domain::OrderId;
use courier_workflows::order::{Cancellation, OrderRequest, OrderStatus};
use serde_json::{Value, json};
use temporalio_client::errors::WorkflowStartError;
use temporalio_client::tonic::IntoRequest;
use temporalio_client::{
    NamespacedClient, WorkflowCancelOptions, WorkflowFetchHistoryOptions, WorkflowGetResultOptions,
    WorkflowSignalOptions, WorkflowStartOptions, WorkflowTerminateOptions,
};
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::enums::v1::{EventType, WorkflowExecutionStatus};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::workflowservice::v1::ResetWorkflowExecutionRequest;

use super::audit::{audited, audited_with_outcome};
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

/// `POST /admin/orders/{id}/compensate`: for an order whose workflow was terminated or failed (it
/// can no longer undo anything itself), runs every undo step of the saga with the same idempotent
/// activities, in a workflow of its own, and answers what each step did. If all succeeded the order
/// ends `CANCELLED` (the customer is told); otherwise it stays `NEEDS_ATTENTION`, the audit entry
/// is `partial`, and the action can be repeated.
pub async fn compensate(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let (order_id, _order, intent) = prepare(&state, &raw, &body).await?;
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
            let view = courier_activities::read_model::view(&state.db, order_id.uuid())
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
                    "compensation_running",
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
    Ok((
        code,
        Json(json!({
            "order_id": order_id,
            "action": "compensate",
            "audit_id": audit_id,
            "status": report.status,
            "steps": report.steps,
        })),
    )
        .into_response())
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
