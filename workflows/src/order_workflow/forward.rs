//! The saga of orders placed since the `saga-v2` patch: the forward path, and the compensation
//! that undoes it in reverse when the order cannot go on.
//!
//! Steps on Courier's own database run as local activities (no round trip through the Temporal
//! server); the charge, the rider search, the rider's fee and the refund are ordinary activities.

use std::time::Duration;

use temporalio_common::ActivityDefinition;
use temporalio_sdk::workflows::{join, select};
use temporalio_sdk::{TimerOptions, WorkflowContext, WorkflowResult};

use super::{
    OrderWorkflow, REASON_NO_RIDER, REASON_SHOP_TIMEOUT, REASON_WORKFLOW_CANCELLED, Unwind,
    detached_wait, failure_message, failure_type, finish, interruptible, options, status,
};
use crate::contracts::{
    AssignRider, ChargePayment, ChargeRequest, PAYMENT_DECLINED, PayRider, PostToShopBoard,
    RefundPayment, RefundRequest, ReleaseRider, ReleaseStock, ReserveOutcome, ReserveStock,
    RiderPayout, ShopTicket, StockReservation, WithdrawFromShopBoard, Withdrawal,
};
use crate::domain::Money;
use crate::order::{Attention, OrderStatus, OrderView, PaymentResult};

pub(super) async fn run(ctx: &mut WorkflowContext<OrderWorkflow>) -> WorkflowResult<OrderView> {
    let unwind = match forward(ctx).await {
        Ok(None) => return finish(ctx).await,
        Ok(Some(unwind)) => unwind,
        Err(err) if ctx.cancellation_token().is_cancelled() => {
            tracing::info!(error = %err, "workflow cancelled: compensating");
            Unwind {
                status: OrderStatus::Cancelled,
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

    // Stock first: nothing is charged for an order that cannot be served. Announcing the order and
    // reserving its stock are independent: they run at once.
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
    let (recorded, reserved) = join!(
        status::record(ctx, OrderStatus::PaymentPending, None),
        ctx.execute_local_activity(ReserveStock, reservation, options::local(&request))
    );
    recorded?;
    let reserved = reserved?;
    if let ReserveOutcome::OutOfStock {
        menu_item_id, name, ..
    } = reserved
    {
        ctx.state_mut(|s| s.done.stock_reserved = false);
        let reason = format!("{name} is out of stock");
        status::record(ctx, OrderStatus::OutOfStock, Some(reason)).await?;
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
        description: format!("{} order {}", request.shop_name, request.order_id),
    };
    let scope = ctx.cancellation_token().child_token();
    let charging = ctx.execute_activity(
        ChargePayment,
        charge,
        options::interruptible(
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
                reason,
            }));
        }
        Err(err) if options::out_of_time(&err) => {
            return Ok(Some(Unwind {
                status: OrderStatus::PaymentFailed,
                reason: format!(
                    "payment impossible for {}s: {}",
                    policy.payment_deadline_secs,
                    failure_message(&err)
                ),
            }));
        }
        Err(err) => return Err(err.into()),
    }
    if let Some(stop) = ctx.state(OrderWorkflow::stop_reason) {
        status::record(ctx, OrderStatus::Paid, None).await?;
        ctx.state_mut(|s| s.payment = Some(PaymentResult::Paid));
        return Ok(Some(stop));
    }

    // Only a paid order reaches the shop, which has a while to accept it: the order is announced
    // as paid and handed to the shop at once.
    ctx.state_mut(|s| s.done.on_shop_board = true);
    let ticket = ShopTicket {
        order_id: request.order_id,
        shop_id: request.shop_id.clone(),
        lines: request.lines.clone(),
        total_minor: request.total.minor,
        delivery_address: request.delivery_address.as_str().to_owned(),
    };
    let (recorded, posted) = join!(
        status::record(ctx, OrderStatus::Paid, None),
        ctx.execute_local_activity(PostToShopBoard, ticket, options::local(&request))
    );
    recorded?;
    posted?;
    ctx.state_mut(|s| s.payment = Some(PaymentResult::Paid));
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
            reason: REASON_SHOP_TIMEOUT.to_owned(),
        }));
    }

    // Dispatch: look for a free rider until the dispatch deadline, then pay the fee up front.
    ctx.state_mut(|s| s.done.rider_assigned = true);
    let scope = ctx.cancellation_token().child_token();
    let dispatching = ctx.execute_activity(
        AssignRider,
        request.order_id,
        options::interruptible(&request, policy.dispatch_timeout_secs, &[], scope.clone()),
    );
    let assigned = interruptible(ctx, scope, dispatching).await;
    let rider = match assigned {
        Ok(rider) => rider,
        Err(_) if ctx.state(|s| s.cancellation.is_some()) => {
            return Ok(ctx.state(OrderWorkflow::stop_reason));
        }
        Err(err) if options::out_of_time(&err) => {
            return Ok(Some(Unwind {
                status: OrderStatus::Rejected,
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
    ctx.execute_activity(PayRider, payout, options::remote(&request, &[]))
        .await?;
    ctx.state_mut(|s| s.rider = Some(rider));
    status::record(ctx, OrderStatus::RiderAssigned, None).await?;

    ctx.wait_condition(|s| s.delivered || s.cancellation.is_some())
        .await?;
    if let Some(stop) = ctx.state(OrderWorkflow::stop_reason) {
        return Ok(Some(stop));
    }
    ctx.execute_local_activity(ReleaseRider, request.order_id, options::local(&request))
        .await?;
    Ok(None)
}

/// Undoes what the forward path did, in reverse: recall the rider, tell the shop, refund, restock;
/// then records the final status, which notifies the customer. Runs on a detached cancellation
/// scope and survives worker restarts: each step is idempotent.
async fn compensate(
    ctx: &mut WorkflowContext<OrderWorkflow>,
    unwind: Unwind,
) -> WorkflowResult<()> {
    let (order_id, done) = ctx.state(|s| (s.request.order_id, s.done.clone()));
    if unwind.status == OrderStatus::Cancelled {
        status::record(ctx, OrderStatus::Cancelling, Some(unwind.reason.clone())).await?;
    }
    if done.rider_assigned {
        compensation_step(ctx, ReleaseRider, order_id, Runs::Locally).await?;
    }
    if done.on_shop_board {
        let withdrawal = Withdrawal {
            order_id,
            reason: unwind.reason.clone(),
        };
        compensation_step(ctx, WithdrawFromShopBoard, withdrawal, Runs::Locally).await?;
    }
    if done.charge_attempted {
        let refund = RefundRequest { order_id };
        compensation_step(ctx, RefundPayment, refund, Runs::Remotely).await?;
    }
    if done.stock_reserved {
        compensation_step(ctx, ReleaseStock, order_id, Runs::Locally).await?;
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
    status::record(ctx, unwind.status, Some(unwind.reason)).await?;
    Ok(())
}

/// Where a step runs: in the worker within the workflow task, or as an ordinary activity.
#[derive(Clone, Copy)]
enum Runs {
    Locally,
    Remotely,
}

/// Runs one compensation step with bounded retries. When they run out, the order goes to
/// `NEEDS_ATTENTION` with the step recorded, and the step waits for an operator's `retry`.
async fn compensation_step<AD>(
    ctx: &mut WorkflowContext<OrderWorkflow>,
    activity: AD,
    input: AD::Input,
    runs: Runs,
) -> WorkflowResult<()>
where
    AD: ActivityDefinition + Copy,
    AD::Input: Clone,
{
    let request = ctx.state(|s| s.request.clone());
    loop {
        let result = match runs {
            Runs::Locally => ctx
                .execute_local_activity(
                    activity,
                    input.clone(),
                    options::local_compensation(&request),
                )
                .await
                .map(|_| ()),
            Runs::Remotely => ctx
                .execute_activity(
                    activity,
                    input.clone(),
                    options::remote_compensation(&request),
                )
                .await
                .map(|_| ()),
        };
        let err = match result {
            Ok(()) => break,
            Err(err) => err,
        };
        let (resume_status, retries_seen) = ctx.state(|s| (s.status, s.retries_requested));
        let attention = Attention {
            step: activity.name().to_owned(),
            error: failure_message(&err),
            attempts: request.policy.compensation_attempts,
        };
        tracing::warn!(step = %attention.step, error = %attention.error, "compensation step needs an operator");
        ctx.state_mut(|s| s.attention = Some(attention));
        status::record(ctx, OrderStatus::NeedsAttention, None).await?;
        ctx.wait_condition_with_options(
            move |s| s.retries_requested > retries_seen,
            detached_wait(),
        )
        .await?;
        ctx.state_mut(|s| s.attention = None);
        status::record(ctx, resume_status, None).await?;
    }
    Ok(())
}
