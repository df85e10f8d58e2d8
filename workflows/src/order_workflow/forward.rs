//! The saga of orders placed since the `saga-v2` patch, as a story: the forward path, step by
//! step; where it stops (a cancellation, the shop's refusal, a deadline, a step that failed for
//! good); and the hand-over to [`compensation`](super::compensation), which undoes what was done.
//!
//! Steps on Courier's own database run as local activities (no round trip through the Temporal
//! server); the charge, the rider search and the rider's fee are ordinary activities, so that a
//! cancellation reaches them between attempts. Every deadline is a workflow timer: when it fires,
//! the step it bounds is cancelled and the saga waits for the running attempt to finish, so it
//! always knows what the attempt did before deciding.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::Either;
use temporalio_sdk::workflows::join;
use temporalio_sdk::{
    ActivityExecutionError, TimerOptions, WorkflowCancellationToken, WorkflowContext,
    WorkflowResult,
};

use super::compensation::{self, Interrupt, Runs, StepEnd};
use super::{
    OrderWorkflow, REASON_NO_RIDER, REASON_NOT_PICKED_UP, REASON_NOT_READY, REASON_SHOP_TIMEOUT,
    REASON_WORKFLOW_CANCELLED, Unwind, failure_message, failure_type, finish, options, status,
    workflow_now,
};
use crate::contracts::{
    AssignRider, ChargePayment, ChargeRequest, PAYMENT_DECLINED, PayRider, PostToShopBoard,
    RecordOutcome, ReserveOutcome, ReserveStock, RiderPayout, ShopTicket, StockReservation,
};
use crate::domain::Money;
use crate::order::{Attention, Cause, OrderStatus, OrderView, PaymentResult};

/// How the forward path ended.
pub(super) enum Forward {
    /// Delivered, or ended before anything needed undoing (out of stock, abandoned placement).
    Done,
    /// Stopped: what was done must be undone.
    Stopped(Unwind),
}

pub(super) async fn run(ctx: &mut WorkflowContext<OrderWorkflow>) -> WorkflowResult<OrderView> {
    let unwind = match forward(ctx).await {
        Ok(Forward::Done) => return finish(ctx).await,
        Ok(Forward::Stopped(unwind)) => unwind,
        // Cancelled in Temporal (an operator's cancel): compensate, unless the rider has already
        // handed the order over, in which case the delivery stands.
        Err(_) if ctx.cancellation_token().is_cancelled() => {
            if ctx.state(|s| s.delivered) {
                compensation::release_after_delivery(ctx).await?;
                return finish(ctx).await;
            }
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
        // Anything else unexpected (a status that could not be recorded for a day): the money
        // goes back, never stays with a failed workflow.
        Err(err) => {
            tracing::error!(error = %err, "the forward path failed: compensating");
            Unwind {
                status: OrderStatus::Rejected,
                cause: Cause::Failed,
                reason: format!("failed: {err}"),
            }
        }
    };
    compensation::compensate(ctx, unwind).await?;
    finish(ctx).await
}

/// The forward path: place, pay, hand to the shop, dispatch, deliver.
async fn forward(ctx: &mut WorkflowContext<OrderWorkflow>) -> WorkflowResult<Forward> {
    let request = ctx.state(|s| s.request.clone());
    let policy = request.policy.clone();

    // The first status change also claims the placement: an order the API already gave up on
    // (it answered 503 before the workflow ran) ends here, having done nothing.
    if status::record(ctx, OrderStatus::PaymentPending, None).await? == RecordOutcome::Abandoned {
        tracing::warn!(order_id = %request.order_id, "the API gave this placement up: ending");
        ctx.state_mut(|s| {
            s.payment = Some(PaymentResult::Ended {
                status: OrderStatus::PaymentFailed,
                reason: "abandoned by the API before it started".to_owned(),
            })
        });
        return Ok(Forward::Done);
    }

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
        .execute_local_activity(ReserveStock, reservation, options::local(&request))
        .await?;
    if let ReserveOutcome::OutOfStock {
        menu_item_id, name, ..
    } = reserved
    {
        ctx.state_mut(|s| s.done.stock_reserved = false);
        let cause = Cause::OutOfStock {
            menu_item_id: menu_item_id.clone(),
        };
        let reason = format!("{name} is out of stock");
        status::record(ctx, OrderStatus::OutOfStock, Some((cause, reason))).await?;
        ctx.state_mut(|s| s.payment = Some(PaymentResult::OutOfStock { menu_item_id, name }));
        return Ok(Forward::Done);
    }
    if reserved == ReserveOutcome::Released {
        return Ok(stopped(ctx));
    }
    if let Some(stop) = ctx.state(OrderWorkflow::stop_reason) {
        return Ok(Forward::Stopped(stop));
    }

    // The charge retries with backoff until the payment deadline (a timer) or a cancellation
    // interrupts it; either way the running attempt is waited for.
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
        options::bounded(&request, &[PAYMENT_DECLINED], None, scope.clone()),
    );
    let (charged, ended_by) = bounded(ctx, scope, policy.payment_deadline_secs, charging).await;
    match (charged, ended_by) {
        (Ok(_receipt), _) => {}
        (Err(err), _) if failure_type(&err) == Some(PAYMENT_DECLINED) => {
            ctx.state_mut(|s| s.done.charge_attempted = false);
            return Ok(Forward::Stopped(Unwind {
                status: OrderStatus::PaymentDeclined,
                cause: Cause::PaymentDeclined,
                reason: failure_message(&err),
            }));
        }
        (Err(err), Some(Ended::Deadline)) => {
            return Ok(Forward::Stopped(Unwind {
                status: OrderStatus::PaymentFailed,
                cause: Cause::PaymentFailed,
                reason: format!(
                    "payment impossible for {}s: {}",
                    policy.payment_deadline_secs,
                    failure_message(&err)
                ),
            }));
        }
        (Err(_), Some(Ended::Stopped)) => return Ok(stopped(ctx)),
        (Err(err), None) => return Err(err.into()),
    }
    if let Some(stop) = ctx.state(OrderWorkflow::stop_reason) {
        status::record(ctx, OrderStatus::Paid, None).await?;
        ctx.state_mut(|s| s.payment = Some(PaymentResult::Paid));
        return Ok(Forward::Stopped(stop));
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
    let accepted = wait_until(ctx, policy.shop_accept_timeout_secs, |s| s.accepted).await?;
    if let Some(stop) = ctx.state(OrderWorkflow::stop_reason) {
        return Ok(Forward::Stopped(stop));
    }
    if !accepted {
        return Ok(Forward::Stopped(rejected(
            REASON_SHOP_TIMEOUT,
            Cause::ShopTimeout,
        )));
    }

    // Dispatch: look for a free rider until the dispatch deadline.
    ctx.state_mut(|s| s.done.rider_assigned = true);
    let scope = ctx.cancellation_token().child_token();
    let dispatching = ctx.execute_activity(
        AssignRider,
        request.order_id,
        options::bounded(&request, &[], None, scope.clone()),
    );
    let (assigned, ended_by) = bounded(ctx, scope, policy.dispatch_timeout_secs, dispatching).await;
    let rider = match (assigned, ended_by) {
        (Ok(rider), _) => rider,
        (Err(_), Some(Ended::Deadline)) => {
            return Ok(Forward::Stopped(rejected(REASON_NO_RIDER, Cause::NoRider)));
        }
        (Err(_), Some(Ended::Stopped)) => return Ok(stopped(ctx)),
        (Err(err), None) => return Err(err.into()),
    };
    // A rider found after the customer cancelled is recalled, not paid.
    if let Some(stop) = ctx.state(OrderWorkflow::stop_reason) {
        return Ok(Forward::Stopped(stop));
    }

    // The rider is paid before setting off. A payout that keeps failing (or is refused) waits for
    // an operator, as long as the order is not cancelled.
    let payout = RiderPayout {
        order_id: request.order_id,
        rider_id: rider.rider_id.clone(),
        fee: Money::new(policy.delivery_fee_minor, request.total.currency),
    };
    let paid =
        compensation::step_or_operator(ctx, PayRider, payout, Runs::Remotely, Interrupt::ByStop)
            .await?;
    if paid == StepEnd::Stopped {
        return Ok(stopped(ctx));
    }
    if let Some(stop) = ctx.state(OrderWorkflow::stop_reason) {
        return Ok(Forward::Stopped(stop));
    }
    ctx.state_mut(|s| s.rider = Some(rider));
    status::record(ctx, OrderStatus::RiderAssigned, None).await?;

    if let Some(unwind) = until_delivered(ctx).await? {
        return Ok(Forward::Stopped(unwind));
    }
    compensation::release_after_delivery(ctx).await?;
    Ok(Forward::Done)
}

/// Waits for the delivery, holding the shop and the rider to their deadlines: the shop has
/// `ready_timeout_secs` from acceptance to have the order ready, the rider `pickup_timeout_secs`
/// from when the order is both ready and theirs to pick it up (missing either ends the order
/// `REJECTED` with `not_ready` or `not_picked_up`, refunded); a delivery overdue by
/// `delivery_timeout_secs` after pickup asks an operator to look (`NEEDS_ATTENTION`) while the
/// rider may still deliver.
async fn until_delivered(
    ctx: &mut WorkflowContext<OrderWorkflow>,
) -> WorkflowResult<Option<Unwind>> {
    let policy = ctx.state(|s| s.request.policy.clone());
    let assigned_at = workflow_now(ctx);
    loop {
        if let Some(stop) = ctx.state(OrderWorkflow::stop_reason) {
            return Ok(Some(stop));
        }
        let (ready_at, picked_up_at, accepted_at, delivered) =
            ctx.state(|s| (s.ready_at, s.picked_up_at, s.accepted_at, s.delivered));
        if delivered {
            return Ok(None);
        }
        let (since, limit, phase): (DateTime<Utc>, u64, Phase) = match (ready_at, picked_up_at) {
            (_, Some(picked_up)) => (picked_up, policy.delivery_timeout_secs, Phase::Delivery),
            (Some(ready), None) => (
                ready.max(assigned_at),
                policy.pickup_timeout_secs,
                Phase::Pickup,
            ),
            (None, None) => (
                accepted_at.unwrap_or(assigned_at),
                policy.ready_timeout_secs,
                Phase::Ready,
            ),
        };
        let left = (since + chrono::Duration::seconds(limit as i64) - workflow_now(ctx))
            .to_std()
            .unwrap_or(Duration::ZERO);
        let moved = wait_until_for(ctx, left, move |s| match phase {
            Phase::Ready => s.ready || s.picked_up,
            Phase::Pickup => s.picked_up,
            Phase::Delivery => s.delivered,
        })
        .await?;
        if moved {
            continue;
        }
        match phase {
            Phase::Ready => return Ok(Some(rejected(REASON_NOT_READY, Cause::NotReady))),
            Phase::Pickup => return Ok(Some(rejected(REASON_NOT_PICKED_UP, Cause::NotPickedUp))),
            Phase::Delivery => {
                // Overdue: an operator looks; `retry` gives the rider another delivery window,
                // a delivery ends the wait, an operator's cancel refunds.
                let attention = Attention {
                    step: "deliver".to_owned(),
                    error: format!(
                        "not delivered within {}s of pickup",
                        policy.delivery_timeout_secs
                    ),
                    attempts: 1,
                };
                let resumed =
                    compensation::wait_for_operator(ctx, attention, |s| s.delivered).await?;
                if resumed {
                    let now = workflow_now(ctx);
                    ctx.state_mut(|s| s.picked_up_at = Some(now));
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Phase {
    Ready,
    Pickup,
    Delivery,
}

fn rejected(reason: &str, cause: Cause) -> Unwind {
    Unwind {
        status: OrderStatus::Rejected,
        cause,
        reason: reason.to_owned(),
    }
}

/// The order was stopped while a step ran: by the customer or shop (their reason), or by a
/// cancellation of the workflow itself.
fn stopped(ctx: &WorkflowContext<OrderWorkflow>) -> Forward {
    Forward::Stopped(
        ctx.state(OrderWorkflow::stop_reason)
            .unwrap_or_else(|| Unwind {
                status: OrderStatus::Cancelled,
                cause: Cause::WorkflowCancelled,
                reason: REASON_WORKFLOW_CANCELLED.to_owned(),
            }),
    )
}

/// What ended a bounded step before it finished on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Deadline,
    Stopped,
}

/// Runs `step` until it finishes, its deadline (a workflow timer of `deadline_secs`) passes, or
/// the order is stopped; in the last two cases cancels `scope` (the step's) and still waits for the
/// step to finish, so the result says what the running attempt really did. Answers the result and
/// what interrupted it, if anything did.
async fn bounded<T>(
    ctx: &WorkflowContext<OrderWorkflow>,
    scope: WorkflowCancellationToken,
    deadline_secs: u64,
    step: impl Future<Output = Result<T, ActivityExecutionError>>,
) -> (Result<T, ActivityExecutionError>, Option<Ended>) {
    let timer_scope = ctx.cancellation_token().child_token();
    let timer = ctx.timer(
        TimerOptions::builder(Duration::from_secs(deadline_secs))
            .cancellation_token(timer_scope.clone())
            .build(),
    );
    let watch = ctx.wait_condition(|s| s.stop_reason().is_some());
    let interrupt = futures_util::future::select(Box::pin(timer), Box::pin(watch));
    futures_util::pin_mut!(step);
    let outcome = match futures_util::future::select(step, interrupt).await {
        Either::Left((done, _)) => (done, None),
        Either::Right((why, step)) => {
            let why = match why {
                Either::Left(_) => Ended::Deadline,
                Either::Right(_) => Ended::Stopped,
            };
            scope.cancel();
            (step.await, Some(why))
        }
    };
    timer_scope.cancel();
    outcome
}

/// Waits until `done` holds or the order is stopped (`true`), or `secs` pass (`false`).
async fn wait_until(
    ctx: &WorkflowContext<OrderWorkflow>,
    secs: u64,
    done: impl Fn(&OrderWorkflow) -> bool + 'static,
) -> WorkflowResult<bool> {
    wait_until_for(ctx, Duration::from_secs(secs), done).await
}

async fn wait_until_for(
    ctx: &WorkflowContext<OrderWorkflow>,
    wait: Duration,
    done: impl Fn(&OrderWorkflow) -> bool + 'static,
) -> WorkflowResult<bool> {
    if wait.is_zero() {
        return Ok(ctx.state(|s| done(s) || s.stop_reason().is_some()));
    }
    let timer_scope = ctx.cancellation_token().child_token();
    let timer = ctx.timer(
        TimerOptions::builder(wait)
            .cancellation_token(timer_scope.clone())
            .build(),
    );
    let condition = ctx.wait_condition(move |s| done(s) || s.stop_reason().is_some());
    futures_util::pin_mut!(timer, condition);
    let reached = match futures_util::future::select(condition, timer).await {
        Either::Left((reached, _)) => {
            reached?;
            true
        }
        Either::Right(_) => false,
    };
    timer_scope.cancel();
    Ok(reached)
}
