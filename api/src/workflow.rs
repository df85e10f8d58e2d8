//! Calls into order workflows, and what their answers mean in HTTP terms.

use std::time::Duration;

use axum::http::StatusCode;
use courier_workflows::OrderWorkflow;
use courier_workflows::codes::ErrorCode;
use courier_workflows::domain::OrderId;
use courier_workflows::order::{OrderRequest, OrderStatus, PaymentResult, Refusal};
use temporalio_client::errors::{
    WorkflowInteractionError, WorkflowStartError, WorkflowUpdateError, WorkflowUpdateWithStartError,
};
use temporalio_client::{
    Client, WorkflowDescribeOptions, WorkflowExecuteUpdateOptions, WorkflowHandle,
    WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowUpdateWithStartOptions,
};
use temporalio_common::protos::temporal::api::enums::v1::WorkflowExecutionStatus;
use temporalio_common::{HasWorkflowDefinition, UpdateDefinition};

use crate::error::ApiError;
use crate::routes::StatusChange;

/// What placing an order learned.
pub enum Placed {
    Settled(PaymentResult),
    /// The workflow runs, but its payment is still being tried after the wait: it goes on without
    /// the caller.
    Pending,
    /// The order's workflow had already ended (a replayed idempotency key): the read model knows.
    Ended,
    /// Temporal did not confirm the start in time: whether the order exists is for the placement
    /// to decide ([`crate::placement::give_up`]).
    Unconfirmed,
}

/// Starts the order's workflow together with its `await_payment` update (one round trip): the
/// start is bounded by `start_bound` on its own; once the workflow is known to run, the payment
/// result is awaited up to `wait`. The workflow id is derived from the order id, so a repeated
/// call attaches to the same order.
pub async fn place_order(
    client: &Client,
    task_queue: &str,
    request: OrderRequest,
    start_bound: Duration,
    wait: Duration,
) -> Placed {
    let workflow_id = request.order_id.workflow_id();
    let options = WorkflowUpdateWithStartOptions::new(
        task_queue.to_owned(),
        workflow_id,
        WorkflowIdConflictPolicy::UseExisting,
    )
    .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
    .build();
    let start = client.start_update_with_start_workflow(
        OrderWorkflow::run,
        request,
        OrderWorkflow::await_payment,
        (),
        options,
    );
    let update = match tokio::time::timeout(start_bound, start).await {
        Err(_elapsed) => return Placed::Unconfirmed,
        Ok(Err(WorkflowUpdateWithStartError::Start(WorkflowStartError::AlreadyStarted {
            ..
        }))) => return Placed::Ended,
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "the order's workflow did not confirm its start");
            return Placed::Unconfirmed;
        }
        Ok(Ok(update)) => update,
    };
    match tokio::time::timeout(wait, update.get_result(Default::default())).await {
        Ok(Ok(result)) => Placed::Settled(result),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "no payment result from a running order");
            Placed::Pending
        }
        Err(_elapsed) => Placed::Pending,
    }
}

/// Sends an action to the order's workflow and returns the new status. A refusal by the workflow's
/// validator becomes `409 invalid_transition` or `409 cannot_cancel` (`404` for another shop's
/// order, `403` for another rider); an order whose workflow has ended refuses every action.
pub async fn act<U>(
    client: &Client,
    order_id: OrderId,
    update: U,
    input: U::Input,
    ended_code: ErrorCode,
) -> Result<OrderStatus, ApiError>
where
    U: UpdateDefinition<
            Workflow = <OrderWorkflow as HasWorkflowDefinition>::Run,
            Output = OrderStatus,
        >,
    U::Input: Send,
{
    let handle = order_handle(client, order_id);
    let result = handle
        .execute_update(update, input, WorkflowExecuteUpdateOptions::default())
        .await;
    result.map_err(|err| match err {
        WorkflowUpdateError::Failed(failure) => match Refusal::parse(&failure.message) {
            Some(r) if r.code == ErrorCode::WrongShop => ApiError::order_not_found(),
            Some(r) if r.code == ErrorCode::WrongRider => {
                ApiError::new(StatusCode::FORBIDDEN, r.code, r.message)
            }
            Some(r) => ApiError::new(StatusCode::CONFLICT, r.code, r.message),
            None => ApiError::internal("order update failed", failure.message),
        },
        WorkflowUpdateError::NotFound(_) => ApiError::new(
            StatusCode::CONFLICT,
            ended_code,
            "the order has ended; it takes no more actions",
        ),
        other => ApiError::internal("order update failed", other),
    })
}

/// A shop's or rider's step on an order: answers the new status.
pub async fn step<U>(
    client: &Client,
    order_id: OrderId,
    update: U,
    input: U::Input,
) -> Result<axum::Json<StatusChange>, ApiError>
where
    U: UpdateDefinition<
            Workflow = <OrderWorkflow as HasWorkflowDefinition>::Run,
            Output = OrderStatus,
        >,
    U::Input: Send,
{
    let status = act(
        client,
        order_id,
        update,
        input,
        ErrorCode::InvalidTransition,
    )
    .await?;
    Ok(axum::Json(StatusChange {
        order_id: order_id.uuid(),
        status,
    }))
}

/// The handle of an order's workflow (`order-{order_id}`).
pub fn order_handle(client: &Client, order_id: OrderId) -> WorkflowHandle<Client, OrderWorkflow> {
    client.get_workflow_handle::<OrderWorkflow>(order_id.workflow_id())
}

/// The execution status of an order's workflow, or `None` when Temporal has no such workflow.
pub async fn execution_status(
    client: &Client,
    order_id: OrderId,
) -> Result<Option<WorkflowExecutionStatus>, WorkflowInteractionError> {
    match order_handle(client, order_id)
        .describe(WorkflowDescribeOptions::default())
        .await
    {
        Ok(description) => Ok(Some(
            description
                .raw_description
                .workflow_execution_info
                .as_ref()
                .map_or(WorkflowExecutionStatus::Unspecified, |info| info.status()),
        )),
        Err(WorkflowInteractionError::NotFound(_)) => Ok(None),
        Err(err) => Err(err),
    }
}
