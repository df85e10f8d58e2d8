//! The saga as orders placed before local status recording ran it (no `saga-v2` patch marker in
//! their history): every status change costs two activities and a notification child workflow.
//! Frozen, so that the histories of those orders replay: change nothing here. Once no such order is
//! running, it can go (see the README's "Changing the workflow safely").

use std::time::Duration;

use temporalio_common::error::RetryState;
use temporalio_common::{ActivityDefinition, RetryPolicy};
use temporalio_sdk::workflows::select;
use temporalio_sdk::{
    ActivityCancellationType, ActivityCloseTimeouts, ActivityExecutionError, ActivityOptions,
    ChildWorkflowOptions, ParentClosePolicy, TimerOptions, WorkflowCancellationToken,
    WorkflowContext, WorkflowResult,
};

use super::{
    CUSTOMER_ID, ORDER_STATUS, OrderWorkflow, REASON_NO_RIDER, REASON_SHOP_TIMEOUT,
    REASON_WORKFLOW_CANCELLED, SHOP_ID, Unwind, detached_wait, failure_message, failure_type,
    finish, interruptible, workflow_now,
};
use crate::contracts::{
    AssignRider, ChargePayment, ChargeRequest, NotificationBatch, NotificationPolicy,
    NotificationRequest, PAYMENT_DECLINED, PayRider, PostToShopBoard, ProjectOrder,
    RecordNotifications, RefundPayment, RefundRequest, ReleaseRider, ReleaseStock, ReserveOutcome,
    ReserveStock, RiderPayout, ShopTicket, StockReservation, WithdrawFromShopBoard, Withdrawal,
};
use crate::domain::Money;
use crate::notification_workflow::NotificationWorkflow;
use crate::order::{
    Attention, Cause, OrderRequest, OrderStatus, OrderView, PaymentResult, TimelineEntry,
};

/// The whole run of a v1 order.
pub(super) async fn run(ctx: &mut WorkflowContext<OrderWorkflow>) -> WorkflowResult<OrderView> {
    let unwind = match forward(ctx).await {
        Ok(None) => return finish(ctx).await,
        Ok(Some(unwind)) => unwind,
        Err(err) if ctx.cancellation_token().is_cancelled() => {
            tracing::info!(error = %err, "workflow cancelled: compensating");
            Unwind {
                status: OrderStatus::Cancelled,
                cause: Cause::WorkflowCancelled,
                reason: ctx
                    .state(|s| s.cancellation.as_ref().map(|c| c.reason.clone()))
                    .or_else(|| ctx.cancellation_token().reason())
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| REASON_WORKFLOW_CANCELLED.to_owned()),
            }
        }
        Err(err) => return Err(err),
    };
    compensate(ctx, unwind).await?;
    finish(ctx).await
}

/// The forward path. `Ok(None)`: delivered. `Ok(Some(unwind))`: stopped, to be compensated.
async fn forward(ctx: &mut WorkflowContext<OrderWorkflow>) -> WorkflowResult<Option<Unwind>> {
    let request = ctx.state(|s| s.request.clone());
    let policy = request.policy.clone();
    let opts = activity_options(&request, &[]);
    record_status(ctx, OrderStatus::PaymentPending, None).await?;

    // Stock first: nothing is charged for an order that cannot be served.
    ctx.state_mut(|s| s.done.stock_reserved = true);
    let reservation = StockReservation {
        order_id: request.order_id,
        shop_id: request.shop_id.clone(),
        items: request
            .lines
            .iter()
            .map(|l| (l.menu_item_id.clone(), l.quantity))
            .collect(),
    };
    let reserved = ctx
        .execute_activity(ReserveStock, reservation, opts.clone())
        .await?;
    if let ReserveOutcome::OutOfStock {
        menu_item_id, name, ..
    } = reserved
    {
        ctx.state_mut(|s| s.done.stock_reserved = false);
        let reason = format!("{name} is out of stock");
        record_status(ctx, OrderStatus::OutOfStock, Some(reason)).await?;
        ctx.state_mut(|s| s.payment = Some(PaymentResult::OutOfStock { menu_item_id, name }));
        return Ok(None);
    }
    if let Some(stop) = ctx.state(OrderWorkflow::stop_reason) {
        return Ok(Some(stop));
    }

    // The charge retries with backoff until its deadline; a cancellation interrupts it.
    ctx.state_mut(|s| s.done.charge_attempted = true);
    let charge = ChargeRequest {
        order_id: request.order_id,
        amount: request.total,
        card: request.card.clone(),
        payment_method: request.payment_method.clone(),
        description: format!("{} order {}", request.shop_name, request.order_id),
    };
    let scope = ctx.cancellation_token().child_token();
    let charging = ctx.execute_activity(
        ChargePayment,
        charge,
        interruptible_options(
            &request,
            policy.payment_deadline_secs,
            &[PAYMENT_DECLINED],
            scope.clone(),
        ),
    );
    let charged = interruptible(ctx, scope, charging).await;
    match charged {
        Ok(_receipt) => {}
        Err(_) if ctx.state(|s| s.cancellation.is_some()) => {
            return Ok(ctx.state(OrderWorkflow::stop_reason));
        }
        Err(err) if failure_type(&err) == Some(PAYMENT_DECLINED) => {
            ctx.state_mut(|s| s.done.charge_attempted = false);
            let reason = failure_message(&err);
            return Ok(Some(Unwind {
                status: OrderStatus::PaymentDeclined,
                cause: Cause::PaymentDeclined,
                reason,
            }));
        }
        Err(err) if out_of_time(&err) => {
            return Ok(Some(Unwind {
                status: OrderStatus::PaymentFailed,
                cause: Cause::PaymentFailed,
                reason: format!(
                    "payment impossible for {}s: {}",
                    policy.payment_deadline_secs,
                    failure_message(&err)
                ),
            }));
        }
        Err(err) => return Err(err.into()),
    }
    record_status(ctx, OrderStatus::Paid, None).await?;
    ctx.state_mut(|s| s.payment = Some(PaymentResult::Paid));
    if let Some(stop) = ctx.state(OrderWorkflow::stop_reason) {
        return Ok(Some(stop));
    }

    // Only a paid order reaches the shop, which has a while to accept it.
    ctx.state_mut(|s| s.done.on_shop_board = true);
    let ticket = ShopTicket {
        order_id: request.order_id,
        shop_id: request.shop_id.clone(),
        lines: request.lines.clone(),
        total_minor: request.total.minor,
        delivery_address: request.delivery_address.as_str().to_owned(),
    };
    ctx.execute_activity(PostToShopBoard, ticket, opts.clone())
        .await?;
    let timer_scope = ctx.cancellation_token().child_token();
    let decided = select! {
        r = ctx.wait_condition(|s| s.accepted || s.stop_reason().is_some()) => { r?; true }
        _ = ctx.timer(
            TimerOptions::builder(Duration::from_secs(policy.shop_accept_timeout_secs))
                .cancellation_token(timer_scope.clone())
                .build(),
        ) => false,
    };
    timer_scope.cancel();
    if let Some(stop) = ctx.state(OrderWorkflow::stop_reason) {
        return Ok(Some(stop));
    }
    if !decided {
        return Ok(Some(Unwind {
            status: OrderStatus::Rejected,
            cause: Cause::ShopTimeout,
            reason: REASON_SHOP_TIMEOUT.to_owned(),
        }));
    }

    // Dispatch: look for a free rider until the dispatch deadline, then pay the fee up front.
    ctx.state_mut(|s| s.done.rider_assigned = true);
    let scope = ctx.cancellation_token().child_token();
    let dispatching = ctx.execute_activity(
        AssignRider,
        request.order_id,
        interruptible_options(&request, policy.dispatch_timeout_secs, &[], scope.clone()),
    );
    let assigned = interruptible(ctx, scope, dispatching).await;
    let rider = match assigned {
        Ok(rider) => rider,
        Err(_) if ctx.state(|s| s.cancellation.is_some()) => {
            return Ok(ctx.state(OrderWorkflow::stop_reason));
        }
        Err(err) if out_of_time(&err) => {
            return Ok(Some(Unwind {
                status: OrderStatus::Rejected,
                cause: Cause::NoRider,
                reason: REASON_NO_RIDER.to_owned(),
            }));
        }
        Err(err) => return Err(err.into()),
    };
    let payout = RiderPayout {
        order_id: request.order_id,
        rider_id: rider.rider_id.clone(),
        fee: Money::new(policy.delivery_fee_minor, request.total.currency),
    };
    ctx.execute_activity(PayRider, payout, opts.clone()).await?;
    ctx.state_mut(|s| s.rider = Some(rider));
    record_status(ctx, OrderStatus::RiderAssigned, None).await?;

    ctx.wait_condition(|s| s.delivered || s.cancellation.is_some())
        .await?;
    if let Some(stop) = ctx.state(OrderWorkflow::stop_reason) {
        return Ok(Some(stop));
    }
    ctx.execute_activity(ReleaseRider, request.order_id, opts)
        .await?;
    Ok(None)
}

/// Undoes what the forward path did, in reverse: recall the rider, tell the shop, refund, restock;
/// then records the final status, which notifies the customer. Runs on a detached cancellation
/// scope and survives worker restarts: each step is an idempotent activity.
async fn compensate(
    ctx: &mut WorkflowContext<OrderWorkflow>,
    unwind: Unwind,
) -> WorkflowResult<()> {
    let (order_id, done) = ctx.state(|s| (s.request.order_id, s.done.clone()));
    if unwind.status == OrderStatus::Cancelled {
        record_status(ctx, OrderStatus::Cancelling, Some(unwind.reason.clone())).await?;
    }
    if done.rider_assigned {
        compensation_step(ctx, ReleaseRider, order_id).await?;
    }
    if done.on_shop_board {
        let withdrawal = Withdrawal {
            order_id,
            reason: unwind.reason.clone(),
        };
        compensation_step(ctx, WithdrawFromShopBoard, withdrawal).await?;
    }
    if done.charge_attempted {
        compensation_step(ctx, RefundPayment, RefundRequest { order_id }).await?;
    }
    if done.stock_reserved {
        compensation_step(ctx, ReleaseStock, order_id).await?;
    }
    ctx.state_mut(|s| {
        s.rider = None;
        if s.payment.is_none() {
            s.payment = Some(match unwind.status {
                OrderStatus::PaymentDeclined => PaymentResult::Declined {
                    reason: unwind.reason.clone(),
                },
                status => PaymentResult::Ended {
                    status,
                    reason: unwind.reason.clone(),
                },
            });
        }
    });
    record_status(ctx, unwind.status, Some(unwind.reason)).await?;
    Ok(())
}

/// Runs one compensation step with bounded retries. When they run out, the order goes to
/// `NEEDS_ATTENTION` with the step recorded, and the step waits for an operator's `retry`.
async fn compensation_step<AD>(
    ctx: &mut WorkflowContext<OrderWorkflow>,
    activity: AD,
    input: AD::Input,
) -> WorkflowResult<()>
where
    AD: ActivityDefinition + Copy,
    AD::Input: Clone,
{
    let opts = ctx.state(|s| compensation_options(&s.request));
    loop {
        let result = ctx
            .execute_activity(activity, input.clone(), opts.clone())
            .await;
        let err = match result {
            Ok(_) => break,
            Err(err) => err,
        };
        let (resume_status, retries_seen) = ctx.state(|s| (s.status, s.retries_requested));
        let attention = Attention {
            step: activity.name().to_owned(),
            error: failure_message(&err),
            attempts: ctx.state(|s| s.request.policy.compensation_attempts),
        };
        tracing::warn!(step = %attention.step, error = %attention.error, "compensation step needs an operator");
        ctx.state_mut(|s| s.attention = Some(attention));
        record_status(ctx, OrderStatus::NeedsAttention, None).await?;
        ctx.wait_condition_with_options(
            move |s| s.retries_requested > retries_seen,
            detached_wait(),
        )
        .await?;
        ctx.state_mut(|s| s.attention = None);
        record_status(ctx, resume_status, None).await?;
    }
    Ok(())
}

/// Moves the order to `status` and makes it known: search attributes, read model, notifications.
/// Its activities run detached from workflow cancellation: the world must hear of every change.
pub(super) async fn record_status(
    ctx: &WorkflowContext<OrderWorkflow>,
    status: OrderStatus,
    reason: Option<String>,
) -> Result<(), ActivityExecutionError> {
    let now = workflow_now(ctx);
    let (view, notification, opts) = ctx.state_mut(|s| {
        s.seq += 1;
        s.status = status;
        s.updated_at = now;
        if reason.is_some() {
            s.reason = reason.clone();
        }
        s.timeline.push(TimelineEntry {
            seq: s.seq,
            status,
            at: now,
        });
        let notification = NotificationRequest {
            order_id: s.request.order_id,
            status,
            shop_name: s.request.shop_name.clone(),
            phone: s.request.phone.as_str().to_owned(),
            email: s.request.email.as_str().to_owned(),
            reason: s.reason.clone(),
            language: s.request.language.map(|l| l.code().to_owned()),
            shop_id: Some(s.request.shop_id.to_string()),
            total_minor: Some(s.request.total.minor),
        };
        (s.view(), notification, detached_options(&s.request))
    });
    ctx.upsert_search_attributes([
        ORDER_STATUS.value_set(status.as_str().to_owned()),
        CUSTOMER_ID.value_set(view.customer_id.to_string()),
        SHOP_ID.value_set(view.shop_id.to_string()),
    ]);
    let seq = view.seq;
    ctx.execute_activity(ProjectOrder, view, opts.clone())
        .await?;
    ctx.state_mut(|s| s.projected_seq = s.projected_seq.max(seq));
    ctx.execute_activity(RecordNotifications, notification, opts)
        .await?;
    if ctx.patched(SEND_NOTIFICATIONS_PATCH) {
        send_notifications(ctx, status, seq).await;
    }
    Ok(())
}

/// Orders started before notifications were sent for real replay without the child workflows.
pub const SEND_NOTIFICATIONS_PATCH: &str = "send-notifications";

/// Starts the workflow that sends this status change's notifications, and does not wait for it:
/// it is abandoned to finish on its own, even after the order has ended.
async fn send_notifications(ctx: &WorkflowContext<OrderWorkflow>, status: OrderStatus, seq: i64) {
    let (order_id, saga) = ctx.state(|s| (s.request.order_id, s.request.policy.clone()));
    let batch = NotificationBatch {
        order_id,
        status,
        policy: NotificationPolicy {
            attempt_timeout_secs: saga.activity_timeout_secs,
            initial_retry_interval_ms: saga.initial_retry_interval_ms,
            max_retry_interval_secs: saga.notification_max_retry_interval_secs,
            give_up_after_secs: saga.notification_give_up_after_secs,
        },
    };
    let options = ChildWorkflowOptions::builder()
        .workflow_id(format!("notify-{order_id}-{seq}"))
        .parent_close_policy(ParentClosePolicy::Abandon)
        .cancellation_token(WorkflowCancellationToken::new())
        .build();
    if let Err(err) = ctx
        .start_child_workflow(NotificationWorkflow::run, batch, options)
        .await
    {
        tracing::warn!(%order_id, %status, error = %err, "could not start sending notifications");
    }
}

fn retry_policy(
    request: &OrderRequest,
    non_retryable: &[&str],
    max_attempts: Option<u32>,
) -> RetryPolicy {
    let policy = &request.policy;
    let builder = RetryPolicy::builder()
        .initial_interval(Duration::from_millis(policy.initial_retry_interval_ms))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(policy.max_retry_interval_secs))
        .non_retryable_error_types(non_retryable.iter().map(|t| (*t).to_owned()));
    match max_attempts {
        Some(n) => builder.maximum_attempts(n).build(),
        None => builder.build(),
    }
}

fn attempt_timeout(request: &OrderRequest) -> Duration {
    Duration::from_secs(request.policy.activity_timeout_secs)
}

/// Forward steps: explicit timeout, unlimited retries with capped exponential backoff, except for
/// the failure types named, which a retry cannot fix.
fn activity_options(request: &OrderRequest, non_retryable: &[&str]) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(attempt_timeout(request))
        .retry_policy(retry_policy(request, non_retryable, None))
        .build()
}

/// A forward step that gives up after `deadline_secs` in all and that a cancellation interrupts;
/// the saga waits for an interrupted attempt to finish, so it knows what the attempt did.
fn interruptible_options(
    request: &OrderRequest,
    deadline_secs: u64,
    non_retryable: &[&str],
    scope: WorkflowCancellationToken,
) -> ActivityOptions {
    ActivityOptions::with_close_timeouts(ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: Duration::from_secs(deadline_secs),
        start_to_close: attempt_timeout(request),
    })
    .retry_policy(retry_policy(request, non_retryable, None))
    .cancellation_token(scope)
    .cancellation_type(ActivityCancellationType::WaitCancellationCompleted)
    .build()
}

/// Status recording: unlimited retries, never cancelled.
fn detached_options(request: &OrderRequest) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(attempt_timeout(request))
        .retry_policy(retry_policy(request, &[], None))
        .cancellation_token(WorkflowCancellationToken::new())
        .build()
}

/// Compensation steps: bounded retries (then an operator decides), never cancelled.
fn compensation_options(request: &OrderRequest) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(attempt_timeout(request))
        .retry_policy(retry_policy(
            request,
            &[],
            Some(request.policy.compensation_attempts),
        ))
        .cancellation_token(WorkflowCancellationToken::new())
        .build()
}

/// Whether a step gave up because its deadline (schedule-to-close) passed: Temporal reports either
/// the timeout itself or, when the deadline fell during an attempt, the last attempt's failure with
/// the retry state `Timeout`.
fn out_of_time(err: &ActivityExecutionError) -> bool {
    let retries_timed_out = matches!(
        err,
        ActivityExecutionError::Failed(failure) if failure.retry_state() == RetryState::Timeout
    );
    retries_timed_out || err.as_timeout().is_some()
}
