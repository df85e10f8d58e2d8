//! The order saga: one workflow per order, id `order-{order_id}`.
//!
//! The run goes forward (reserve, charge, hand to the shop, dispatch and pay a rider, deliver)
//! while it records what it has done; when the order cannot go on (cancelled, rejected, timed out,
//! no rider, payment impossible) it compensates what was done, in reverse, on a cancellation scope
//! of its own so that a cancellation of the workflow itself cannot stop the compensation. A
//! compensation step that keeps failing parks the order in `NEEDS_ATTENTION` until an operator
//! sends `retry`.
//!
//! Shop and rider actions arrive as updates whose validators refuse what the order's state does
//! not allow, so a refused action never enters history. Every status change, whoever makes it,
//! goes through [`record_status`]: it bumps the view's sequence number, upserts the search
//! attributes, projects the view into the read model and records the customer's notifications.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::Either;
use temporalio_common::error::RetryState;
use temporalio_common::search_attributes::SearchAttributeKey;
use temporalio_common::{ActivityDefinition, RetryPolicy};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::workflows::select;
use temporalio_sdk::{
    ActivityCancellationType, ActivityCloseTimeouts, ActivityExecutionError, ActivityOptions,
    ChildWorkflowOptions, ParentClosePolicy, SyncWorkflowContext, TimerOptions,
    WorkflowCancellationToken, WorkflowContext, WorkflowContextView, WorkflowResult,
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
    Attention, Cancellation, OrderRequest, OrderStatus, OrderView, PaymentResult, Refusal,
    RefusalCode, Rider, RiderAction, ShopAction, ShopRejection, TimelineEntry,
};

/// Search attributes operators filter orders by in the Temporal UI.
pub const ORDER_STATUS: SearchAttributeKey<String> = SearchAttributeKey::keyword("OrderStatus");
pub const CUSTOMER_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("CustomerId");
pub const SHOP_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("ShopId");

/// Reasons recorded when the saga ends an order by itself.
pub const REASON_SHOP_TIMEOUT: &str = "shop_timeout";
pub const REASON_NO_RIDER: &str = "no_rider";
pub const REASON_WORKFLOW_CANCELLED: &str = "cancelled in Temporal";

type Refused = Result<(), Box<dyn std::error::Error + Send + Sync>>;
type UpdateResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// What the forward path has done, hence what a compensation must undo.
#[derive(Debug, Default, Clone)]
struct Done {
    stock_reserved: bool,
    /// A charge was attempted: something may have been charged even if no answer came back.
    charge_attempted: bool,
    on_shop_board: bool,
    rider_assigned: bool,
}

/// How the forward path ended when it did not deliver.
struct Unwind {
    status: OrderStatus,
    reason: String,
}

#[workflow]
pub struct OrderWorkflow {
    request: OrderRequest,
    status: OrderStatus,
    /// Bumped by every status change; the read model keeps the highest it has seen.
    seq: i64,
    /// The highest `seq` already in the read model; an update answers only once its change is.
    projected_seq: i64,
    timeline: Vec<TimelineEntry>,
    updated_at: DateTime<Utc>,
    reason: Option<String>,
    attention: Option<Attention>,
    /// Set once stock and payment are settled; `await_payment` answers with it.
    payment: Option<PaymentResult>,
    done: Done,
    accepted: bool,
    /// The shop's reason, once it turned the order down.
    rejection: Option<String>,
    /// The customer's (or operator's) cancellation, once asked for.
    cancellation: Option<Cancellation>,
    rider: Option<Rider>,
    ready: bool,
    picked_up: bool,
    delivered: bool,
    /// Bumped by the operator's `retry` signal; a parked compensation step waits for it.
    retries_requested: u32,
}

#[workflow_methods]
impl OrderWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, request: OrderRequest) -> Self {
        Self {
            status: OrderStatus::PaymentPending,
            seq: 0,
            projected_seq: 0,
            timeline: Vec::new(),
            updated_at: request.placed_at,
            reason: None,
            attention: None,
            payment: None,
            done: Done::default(),
            accepted: false,
            rejection: None,
            cancellation: None,
            rider: None,
            ready: false,
            picked_up: false,
            delivered: false,
            retries_requested: 0,
            request,
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<OrderView> {
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

    /// Answers once stock and payment are settled: what `POST /orders` waits for.
    #[update]
    pub async fn await_payment(
        ctx: &mut WorkflowContext<Self>,
        _input: (),
    ) -> Result<PaymentResult, Box<dyn std::error::Error + Send + Sync>> {
        ctx.wait_condition(|s| s.payment.is_some()).await?;
        Ok(ctx.state(|s| s.payment.clone().expect("waited for the payment result")))
    }

    #[update_validator(accept)]
    fn validate_accept(&self, _ctx: &WorkflowContextView, action: &ShopAction) -> Refused {
        self.check_shop(action)?;
        self.check(
            self.status == OrderStatus::Paid && self.is_open(),
            "accept needs a PAID order",
        )
    }

    #[update]
    pub async fn accept(
        ctx: &mut WorkflowContext<Self>,
        _action: ShopAction,
    ) -> Result<OrderStatus, Box<dyn std::error::Error + Send + Sync>> {
        ctx.state_mut(|s| s.accepted = true);
        record_status(ctx, OrderStatus::Accepted, None).await?;
        Ok(OrderStatus::Accepted)
    }

    #[update_validator(reject)]
    fn validate_reject(&self, _ctx: &WorkflowContextView, rejection: &ShopRejection) -> Refused {
        self.check_shop(&ShopAction {
            shop_id: rejection.shop_id.clone(),
        })?;
        self.check(
            self.status == OrderStatus::Paid && self.is_open(),
            "reject needs a PAID order the shop has not accepted",
        )
    }

    /// Turns the order down; answers once the customer is refunded and the stock is back.
    #[update]
    pub async fn reject(
        ctx: &mut WorkflowContext<Self>,
        rejection: ShopRejection,
    ) -> Result<OrderStatus, Box<dyn std::error::Error + Send + Sync>> {
        ctx.state_mut(|s| s.rejection = Some(rejection.reason));
        await_settled(ctx, |status| {
            status.is_final() || status == OrderStatus::NeedsAttention
        })
        .await
    }

    #[update_validator(ready)]
    fn validate_ready(&self, _ctx: &WorkflowContextView, action: &ShopAction) -> Refused {
        self.check_shop(action)?;
        self.check(
            self.accepted && !self.ready && !self.picked_up && self.is_open(),
            "ready needs an ACCEPTED order that is not ready yet",
        )
    }

    #[update]
    pub async fn ready(
        ctx: &mut WorkflowContext<Self>,
        _action: ShopAction,
    ) -> Result<OrderStatus, Box<dyn std::error::Error + Send + Sync>> {
        ctx.state_mut(|s| s.ready = true);
        record_status(ctx, OrderStatus::Ready, None).await?;
        Ok(OrderStatus::Ready)
    }

    #[update_validator(pickup)]
    fn validate_pickup(&self, _ctx: &WorkflowContextView, action: &RiderAction) -> Refused {
        self.check(
            self.ready && self.rider.is_some() && !self.picked_up && self.is_open(),
            "pickup needs an order that is READY and has its rider assigned",
        )?;
        self.check_rider(action)
    }

    #[update]
    pub async fn pickup(
        ctx: &mut WorkflowContext<Self>,
        _action: RiderAction,
    ) -> Result<OrderStatus, Box<dyn std::error::Error + Send + Sync>> {
        ctx.state_mut(|s| s.picked_up = true);
        record_status(ctx, OrderStatus::PickedUp, None).await?;
        Ok(OrderStatus::PickedUp)
    }

    #[update_validator(deliver)]
    fn validate_deliver(&self, _ctx: &WorkflowContextView, action: &RiderAction) -> Refused {
        self.check(
            self.picked_up && !self.delivered,
            "deliver needs an order that is PICKED_UP",
        )?;
        self.check_rider(action)
    }

    #[update]
    pub async fn deliver(
        ctx: &mut WorkflowContext<Self>,
        _action: RiderAction,
    ) -> Result<OrderStatus, Box<dyn std::error::Error + Send + Sync>> {
        ctx.state_mut(|s| s.delivered = true);
        record_status(ctx, OrderStatus::Delivered, None).await?;
        Ok(OrderStatus::Delivered)
    }

    #[update_validator(cancel_order)]
    fn validate_cancel(&self, _ctx: &WorkflowContextView, _cancellation: &Cancellation) -> Refused {
        self.cancellable()
    }

    /// The customer's cancellation. Answers once compensation has begun (`CANCELLING`) or ended
    /// (`CANCELLED`); asking again changes nothing.
    #[update]
    pub async fn cancel_order(
        ctx: &mut WorkflowContext<Self>,
        cancellation: Cancellation,
    ) -> Result<OrderStatus, Box<dyn std::error::Error + Send + Sync>> {
        ctx.state_mut(|s| s.request_cancellation(cancellation));
        await_settled(ctx, |status| {
            matches!(
                status,
                OrderStatus::Cancelling | OrderStatus::Cancelled | OrderStatus::NeedsAttention
            ) || status.is_final()
        })
        .await
    }

    /// The same cancellation as a plain signal, for operators in the Temporal UI or CLI. Ignored
    /// when the order can no longer be cancelled (picked up or ended).
    #[signal(name = "cancel")]
    pub fn cancel(&mut self, _ctx: &mut SyncWorkflowContext<Self>, cancellation: Cancellation) {
        if self.cancellable().is_ok() {
            self.request_cancellation(cancellation);
        }
    }

    /// An operator's go-ahead to try a parked compensation step again.
    #[signal(name = "retry")]
    pub fn retry(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _input: ()) {
        self.retries_requested += 1;
    }

    /// The workflow's own view of the order (the read model may lag it by one projection).
    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> OrderView {
        self.view()
    }
}

impl OrderWorkflow {
    fn view(&self) -> OrderView {
        let r = &self.request;
        OrderView {
            order_id: r.order_id,
            customer_id: r.customer_id.clone(),
            shop_id: r.shop_id.clone(),
            status: self.status,
            items: r.lines.clone(),
            total_minor: r.total.minor,
            currency: r.total.currency.code().to_owned(),
            delivery_address: r.delivery_address.clone(),
            rider: self.rider.clone(),
            reason: self.reason.clone(),
            attention: self.attention.clone(),
            created_at: r.placed_at,
            updated_at: self.updated_at,
            timeline: self.timeline.clone(),
            seq: self.seq,
        }
    }

    /// Neither ending nor being unwound: shop and rider actions are still welcome.
    fn is_open(&self) -> bool {
        self.cancellation.is_none() && self.rejection.is_none() && !self.status.is_final()
    }

    fn cancellable(&self) -> Refused {
        let refuse = |why: String| Err(Refusal::new(RefusalCode::CannotCancel, why).into());
        if self.cancellation.is_some() {
            return Ok(());
        }
        if self.picked_up {
            return refuse(format!(
                "the rider has already picked the order up ({})",
                self.status
            ));
        }
        if self.status.is_final() || self.rejection.is_some() {
            return refuse(format!("the order has already ended ({})", self.status));
        }
        Ok(())
    }

    fn request_cancellation(&mut self, cancellation: Cancellation) {
        if self.cancellation.is_none() {
            self.cancellation = Some(cancellation);
        }
    }

    fn check(&self, allowed: bool, rule: &str) -> Refused {
        if allowed {
            Ok(())
        } else {
            Err(Refusal::new(
                RefusalCode::InvalidTransition,
                format!("{rule}; the order is {}", self.status),
            )
            .into())
        }
    }

    fn check_shop(&self, action: &ShopAction) -> Refused {
        if action.shop_id == self.request.shop_id {
            Ok(())
        } else {
            Err(Refusal::new(RefusalCode::WrongShop, "the order belongs to another shop").into())
        }
    }

    fn check_rider(&self, action: &RiderAction) -> Refused {
        match (&action.rider_id, &self.rider) {
            (Some(claimed), Some(rider)) if *claimed != rider.rider_id => Err(Refusal::new(
                RefusalCode::WrongRider,
                "the order is assigned to another rider",
            )
            .into()),
            _ => Ok(()),
        }
    }

    /// Why the order must stop going forward, if it must.
    fn stop_reason(&self) -> Option<Unwind> {
        if let Some(c) = &self.cancellation {
            return Some(Unwind {
                status: OrderStatus::Cancelled,
                reason: c.reason.clone(),
            });
        }
        self.rejection.as_ref().map(|reason| Unwind {
            status: OrderStatus::Rejected,
            reason: reason.clone(),
        })
    }
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
                reason,
            }));
        }
        Err(err) if out_of_time(&err) => {
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

/// Waits (detached from workflow cancellation) until the status satisfies `settled` and is in
/// the read model, then answers it.
async fn await_settled(
    ctx: &mut WorkflowContext<OrderWorkflow>,
    settled: impl Fn(OrderStatus) -> bool + 'static,
) -> UpdateResult<OrderStatus> {
    ctx.wait_condition_with_options(
        move |s| settled(s.status) && s.projected_seq == s.seq,
        detached_wait(),
    )
    .await?;
    Ok(ctx.state(|s| s.status))
}

/// Moves the order to `status` and makes it known: search attributes, read model, notifications.
/// Its activities run detached from workflow cancellation: the world must hear of every change.
async fn record_status(
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

/// Ends the run once every update handler has answered, so no caller is left without a reply.
async fn finish(ctx: &mut WorkflowContext<OrderWorkflow>) -> WorkflowResult<OrderView> {
    let handlers = ctx.clone();
    ctx.wait_condition_with_options(move |_| handlers.all_handlers_finished(), detached_wait())
        .await?;
    Ok(ctx.state(|s| s.view()))
}

/// Runs `step` until it ends or the order is cancelled; on cancellation, cancels `scope` (the
/// step's) and still waits for the step, so the saga knows what it did before compensating.
async fn interruptible<T>(
    ctx: &WorkflowContext<OrderWorkflow>,
    scope: WorkflowCancellationToken,
    step: impl Future<Output = T>,
) -> T {
    let watch = ctx.wait_condition(|s| s.cancellation.is_some());
    futures_util::pin_mut!(step, watch);
    match futures_util::future::select(step, watch).await {
        Either::Left((done, _)) => done,
        Either::Right((_, step)) => {
            scope.cancel();
            step.await
        }
    }
}

/// Waits that must not end when the workflow is cancelled: compensation and answering callers
/// outlive a cancellation.
fn detached_wait() -> temporalio_sdk::WaitConditionOptions {
    temporalio_sdk::WaitConditionOptions::builder()
        .cancellation_token(WorkflowCancellationToken::new())
        .build()
}

fn workflow_now(ctx: &WorkflowContext<OrderWorkflow>) -> DateTime<Utc> {
    ctx.workflow_time()
        .map(DateTime::<Utc>::from)
        .unwrap_or_else(|| ctx.state(|s| s.request.placed_at))
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

fn failure_type(err: &ActivityExecutionError) -> Option<&str> {
    match err.reason() {
        Some(temporalio_common::error::IncomingError::Application(app)) => app.type_name(),
        _ => None,
    }
}

/// The innermost failure message: what actually went wrong, not "activity failed".
fn failure_message(err: &ActivityExecutionError) -> String {
    err.reason()
        .map(|r| r.failure().message.clone())
        .unwrap_or_else(|| err.to_string())
}
