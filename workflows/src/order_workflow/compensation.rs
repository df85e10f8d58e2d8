//! Undoing what the forward path did, and the steps an operator may have to help along.
//!
//! [`compensate`] undoes the forward path's steps in reverse (each beside the forward step it
//! undoes: the rider beside dispatch, the shop board beside the hand-over, the refund beside the
//! charge, the stock beside the reservation), on cancellation scopes of their own so that a
//! cancellation of the workflow cannot stop it, and records the final status, which notifies the
//! customer. A step that keeps failing parks the order in `NEEDS_ATTENTION` until an operator
//! sends `retry` ([`step_or_operator`]).

use temporalio_common::ActivityDefinition;
use temporalio_sdk::{WorkflowContext, WorkflowResult};

use super::{OrderWorkflow, Unwind, detached_wait, failure_message, options, status};
use crate::contracts::{
    RefundPayment, RefundRequest, ReleaseRider, ReleaseStock, WithdrawFromShopBoard, Withdrawal,
};
use crate::order::{Attention, OrderStatus, PaymentResult};

/// Where a step runs: in the worker within the workflow task, or as an ordinary activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Runs {
    Locally,
    Remotely,
}

/// Whether a step (and its wait for an operator) gives way when the order is stopped: forward
/// steps do; compensation steps never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Interrupt {
    ByStop,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StepEnd {
    Done,
    Stopped,
}

/// Undoes what the forward path did, in reverse, then records the final status. From its first
/// line the order is unwinding: shop and rider actions are refused, and the read model shows
/// `CANCELLING` (a cancellation) or `COMPENSATING` (anything else).
pub(super) async fn compensate(
    ctx: &mut WorkflowContext<OrderWorkflow>,
    unwind: Unwind,
) -> WorkflowResult<()> {
    ctx.state_mut(|s| s.unwinding = true);
    let (order_id, done) = ctx.state(|s| (s.request.order_id, s.done.clone()));
    let unwinding = if unwind.status == OrderStatus::Cancelled {
        OrderStatus::Cancelling
    } else {
        OrderStatus::Compensating
    };
    status::record(ctx, unwinding, unwind.why()).await?;
    // Dispatch: recall the rider (a rider already paid keeps the fee).
    if done.rider_assigned {
        step_or_operator(ctx, ReleaseRider, order_id, Runs::Locally, Interrupt::Never).await?;
    }
    // The hand-over to the shop: the ticket is withdrawn with the reason.
    if done.on_shop_board {
        let withdrawal = Withdrawal {
            order_id,
            reason: unwind.reason.clone(),
        };
        step_or_operator(
            ctx,
            WithdrawFromShopBoard,
            withdrawal,
            Runs::Locally,
            Interrupt::Never,
        )
        .await?;
    }
    // The charge: whatever the provider booked under the order is refunded.
    if done.charge_attempted {
        let refund = RefundRequest { order_id };
        step_or_operator(ctx, RefundPayment, refund, Runs::Remotely, Interrupt::Never).await?;
    }
    // The reservation: the stock goes back.
    if done.stock_reserved {
        step_or_operator(ctx, ReleaseStock, order_id, Runs::Locally, Interrupt::Never).await?;
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
    status::record(ctx, unwind.status, unwind.why()).await?;
    Ok(())
}

/// After the delivery: the rider is free again. Never cancelled: it runs even when an operator's
/// cancel arrives after the rider handed the order over.
pub(super) async fn release_after_delivery(
    ctx: &mut WorkflowContext<OrderWorkflow>,
) -> WorkflowResult<()> {
    let order_id = ctx.state(|s| s.request.order_id);
    step_or_operator(ctx, ReleaseRider, order_id, Runs::Locally, Interrupt::Never).await?;
    Ok(())
}

/// Runs one step with bounded retries. When they run out (or the failure is final), the order
/// goes to `NEEDS_ATTENTION` with the step recorded and waits: an operator's `retry` runs the step
/// again; with [`Interrupt::ByStop`], a cancellation ends the wait (and the step, between
/// attempts) and answers [`StepEnd::Stopped`].
pub(super) async fn step_or_operator<AD>(
    ctx: &mut WorkflowContext<OrderWorkflow>,
    activity: AD,
    input: AD::Input,
    runs: Runs,
    interrupt: Interrupt,
) -> WorkflowResult<StepEnd>
where
    AD: ActivityDefinition + Copy,
    AD::Input: Clone,
{
    let request = ctx.state(|s| s.request.clone());
    loop {
        let result = match (runs, interrupt) {
            (Runs::Locally, _) => ctx
                .execute_local_activity(
                    activity,
                    input.clone(),
                    options::local_compensation(&request),
                )
                .await
                .map(|_| ()),
            (Runs::Remotely, Interrupt::Never) => ctx
                .execute_activity(
                    activity,
                    input.clone(),
                    options::remote_compensation(&request),
                )
                .await
                .map(|_| ()),
            (Runs::Remotely, Interrupt::ByStop) => {
                let scope = ctx.cancellation_token().child_token();
                let attempts = Some(request.policy.payout_attempts);
                let running = ctx.execute_activity(
                    activity,
                    input.clone(),
                    options::bounded(&request, &[], attempts, scope.clone()),
                );
                super::interruptible(ctx, scope, running).await.map(|_| ())
            }
        };
        let err = match result {
            Ok(()) => return Ok(StepEnd::Done),
            Err(_) if interrupt == Interrupt::ByStop && stopped(ctx) => {
                return Ok(StepEnd::Stopped);
            }
            Err(err) => err,
        };
        let attempts = match (runs, interrupt) {
            (Runs::Remotely, Interrupt::ByStop) => request.policy.payout_attempts,
            _ => request.policy.compensation_attempts,
        };
        let attention = Attention {
            step: activity.name().to_owned(),
            error: failure_message(&err),
            attempts,
        };
        tracing::warn!(step = %attention.step, error = %attention.error, "a step needs an operator");
        let resumed = match interrupt {
            Interrupt::ByStop => wait_for_operator(ctx, attention, |_| false).await?,
            Interrupt::Never => wait_for_operator_detached(ctx, attention).await?,
        };
        if !resumed {
            return Ok(StepEnd::Stopped);
        }
    }
}

fn stopped(ctx: &WorkflowContext<OrderWorkflow>) -> bool {
    ctx.state(|s| s.stop_reason().is_some()) || ctx.cancellation_token().is_cancelled()
}

/// Parks the order in `NEEDS_ATTENTION` with `attention` until an operator's `retry` (`true`),
/// `done` holds (`true`), or the order is stopped (`false`); then records the status it had again
/// (unless `done` already moved it on).
pub(super) async fn wait_for_operator(
    ctx: &mut WorkflowContext<OrderWorkflow>,
    attention: Attention,
    done: impl Fn(&OrderWorkflow) -> bool + 'static,
) -> WorkflowResult<bool> {
    let (resume_status, retries_seen) = park(ctx, attention).await?;
    ctx.wait_condition(move |s| {
        s.retries_requested > retries_seen || done(s) || s.stop_reason().is_some()
    })
    .await?;
    if ctx.state(|s| s.stop_reason().is_some()) {
        return Ok(false);
    }
    unpark(ctx, resume_status).await?;
    Ok(true)
}

/// [`wait_for_operator`] for compensation steps: only `retry` ends the wait, and a cancellation of
/// the workflow does not.
async fn wait_for_operator_detached(
    ctx: &mut WorkflowContext<OrderWorkflow>,
    attention: Attention,
) -> WorkflowResult<bool> {
    let (resume_status, retries_seen) = park(ctx, attention).await?;
    ctx.wait_condition_with_options(move |s| s.retries_requested > retries_seen, detached_wait())
        .await?;
    unpark(ctx, resume_status).await?;
    Ok(true)
}

async fn park(
    ctx: &mut WorkflowContext<OrderWorkflow>,
    attention: Attention,
) -> WorkflowResult<(OrderStatus, u32)> {
    let (resume_status, retries_seen) = ctx.state(|s| (s.status, s.retries_requested));
    ctx.state_mut(|s| s.attention = Some(attention));
    status::record(ctx, OrderStatus::NeedsAttention, None).await?;
    Ok((resume_status, retries_seen))
}

async fn unpark(
    ctx: &mut WorkflowContext<OrderWorkflow>,
    resume_status: OrderStatus,
) -> WorkflowResult<()> {
    ctx.state_mut(|s| s.attention = None);
    // A step that moved the order on while it waited (a delivery) recorded its own status.
    if ctx.state(|s| s.status) == OrderStatus::NeedsAttention {
        status::record(ctx, resume_status, None).await?;
    }
    Ok(())
}
