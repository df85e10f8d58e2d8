//! Compensating an order whose own workflow can no longer do it: terminated by an operator, or
//! failed. One workflow at a time per order (id `compensate-{order_id}`), started by
//! `POST /admin/orders/{id}/compensate`: it runs every undo step of the saga with the same
//! idempotent activities (each does nothing when there is nothing to undo), and, if all of them
//! succeeded, records the order `CANCELLED`, which tells the customer. Each step's outcome is
//! reported, so the audit trail says truthfully what was and was not undone; a step that fails
//! leaves the order `NEEDS_ATTENTION` and the action can be run again.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_common::{ActivityDefinition, RetryPolicy};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityOptions, WorkflowContext, WorkflowResult};

use crate::contracts::{
    NotificationPolicy, NotificationRequest, RecordStatus, RefundPayment, RefundRequest,
    ReleaseRider, ReleaseStock, StatusChange, WithdrawFromShopBoard, Withdrawal,
};
use crate::order::{Cause, OrderRequest, OrderStatus, OrderView, TimelineEntry};

/// What to compensate: the order as it was placed (its workflow's input), its last view (the read
/// model's), and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompensationOrder {
    pub request: OrderRequest,
    pub view: OrderView,
    pub reason: String,
}

/// How one undo step went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepOutcome {
    pub step: String,
    pub ok: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompensationReport {
    pub steps: Vec<StepOutcome>,
    /// The order's status afterwards: `CANCELLED` when every step succeeded.
    pub status: OrderStatus,
}

#[workflow]
#[derive(Default)]
pub struct OrderCompensationWorkflow;

#[workflow_methods]
impl OrderCompensationWorkflow {
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        order: CompensationOrder,
    ) -> WorkflowResult<CompensationReport> {
        let order_id = order.request.order_id;
        let opts = options(&order.request);
        let mut steps = vec![
            step(ctx, ReleaseRider, order_id, &opts).await,
            step(
                ctx,
                WithdrawFromShopBoard,
                Withdrawal {
                    order_id,
                    reason: order.reason.clone(),
                },
                &opts,
            )
            .await,
            step(ctx, RefundPayment, RefundRequest { order_id }, &opts).await,
            step(ctx, ReleaseStock, order_id, &opts).await,
        ];
        if steps.iter().any(|s| !s.ok) {
            return Ok(CompensationReport {
                steps,
                status: order.view.status,
            });
        }
        let now = ctx
            .workflow_time()
            .map(chrono::DateTime::<chrono::Utc>::from)
            .unwrap_or(order.view.updated_at);
        let mut view = order.view.clone();
        view.seq += 1;
        view.status = OrderStatus::Cancelled;
        view.reason = Some(order.reason.clone());
        view.cause = Some(Cause::Compensated);
        view.attention = None;
        view.rider = None;
        view.updated_at = now;
        view.timeline.push(TimelineEntry {
            seq: view.seq,
            status: OrderStatus::Cancelled,
            at: now,
        });
        let r = &order.request;
        let change = StatusChange {
            notification: NotificationRequest {
                order_id,
                status: OrderStatus::Cancelled,
                shop_name: r.shop_name.clone(),
                phone: r.phone.as_str().to_owned(),
                email: r.email.as_str().to_owned(),
                reason: Some(order.reason.clone()),
                language: r.language.map(|l| l.code().to_owned()),
                shop_id: Some(r.shop_id.to_string()),
                total_minor: Some(r.total.minor),
            },
            delivery: NotificationPolicy {
                attempt_timeout_secs: r.policy.activity_timeout_secs,
                initial_retry_interval_ms: r.policy.initial_retry_interval_ms,
                max_retry_interval_secs: r.policy.notification_max_retry_interval_secs,
                give_up_after_secs: r.policy.notification_give_up_after_secs,
            },
            view,
        };
        steps.push(step(ctx, RecordStatus, change, &opts).await);
        let status = if steps.iter().all(|s| s.ok) {
            OrderStatus::Cancelled
        } else {
            order.view.status
        };
        Ok(CompensationReport { steps, status })
    }
}

fn options(request: &OrderRequest) -> ActivityOptions {
    let policy = &request.policy;
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(policy.activity_timeout_secs))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(policy.initial_retry_interval_ms))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(policy.max_retry_interval_secs))
                .maximum_attempts(policy.compensation_attempts)
                .build(),
        )
        .build()
}

async fn step<AD>(
    ctx: &WorkflowContext<OrderCompensationWorkflow>,
    activity: AD,
    input: AD::Input,
    opts: &ActivityOptions,
) -> StepOutcome
where
    AD: ActivityDefinition + Copy,
{
    let result = ctx.execute_activity(activity, input, opts.clone()).await;
    StepOutcome {
        step: activity.name().to_owned(),
        ok: result.is_ok(),
        error: result.err().map(|err| {
            err.reason()
                .map(|r| r.failure().message.clone())
                .unwrap_or_else(|| err.to_string())
        }),
    }
}
