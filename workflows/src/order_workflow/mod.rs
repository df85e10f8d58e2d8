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

mod compensation;
mod forward;
mod legacy;
mod options;
mod status;

use chrono::{DateTime, Utc};
use futures_util::future::Either;
use temporalio_common::search_attributes::SearchAttributeKey;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, SyncWorkflowContext, WorkflowCancellationToken, WorkflowContext,
    WorkflowContextView, WorkflowResult,
};

use crate::codes::ErrorCode;
use crate::order::{
    Attention, Cancellation, Cause, OrderRequest, OrderStatus, OrderView, PaymentResult, Refusal,
    Rider, RiderAction, ShopAction, ShopRejection, TimelineEntry,
};

/// Search attributes operators filter orders by in the Temporal UI.
pub const ORDER_STATUS: SearchAttributeKey<String> = SearchAttributeKey::keyword("OrderStatus");
pub const CUSTOMER_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("CustomerId");
pub const SHOP_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("ShopId");

/// Reasons recorded when the saga ends an order by itself.
pub const REASON_SHOP_TIMEOUT: &str = "shop_timeout";
pub const REASON_NO_RIDER: &str = "no_rider";
pub const REASON_WORKFLOW_CANCELLED: &str = "cancelled in Temporal";
pub const REASON_NOT_READY: &str = "not_ready";
pub const REASON_NOT_PICKED_UP: &str = "not_picked_up";

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
    cause: Cause,
    reason: String,
}

impl Unwind {
    /// What the status change records: the cause, and the sentence people read.
    fn why(&self) -> Option<(Cause, String)> {
        Some((self.cause.clone(), self.reason.clone()))
    }
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
    cause: Option<Cause>,
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
    /// Bumped by the operator's `retry` signal; a parked step waits for it.
    retries_requested: u32,
    /// The saga is undoing what it did: shop and rider actions are refused from here on.
    unwinding: bool,
    /// Workflow times the delivery deadlines count from.
    accepted_at: Option<DateTime<Utc>>,
    ready_at: Option<DateTime<Utc>>,
    picked_up_at: Option<DateTime<Utc>>,
    /// The order runs the saga of [`SAGA_V2_PATCH`] (every order placed since); older ones replay
    /// the [`legacy`] saga.
    v2: bool,
}

/// Orders placed since status changes are recorded by local activities and notifications leave
/// through the outbox carry this patch marker in their history.
pub const SAGA_V2_PATCH: &str = "saga-v2";

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
            cause: None,
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
            unwinding: false,
            accepted_at: None,
            ready_at: None,
            picked_up_at: None,
            v2: false,
            request,
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<OrderView> {
        if ctx.patched(SAGA_V2_PATCH) {
            ctx.state_mut(|s| s.v2 = true);
            return forward::run(ctx).await;
        }
        legacy::run(ctx).await
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
        let now = workflow_now(ctx);
        ctx.state_mut(|s| {
            s.accepted = true;
            s.accepted_at = Some(now);
        });
        record_status(ctx, OrderStatus::Accepted).await?;
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
        let now = workflow_now(ctx);
        ctx.state_mut(|s| {
            s.ready = true;
            s.ready_at = Some(now);
        });
        record_status(ctx, OrderStatus::Ready).await?;
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
        let now = workflow_now(ctx);
        ctx.state_mut(|s| {
            s.picked_up = true;
            s.picked_up_at = Some(now);
        });
        record_status(ctx, OrderStatus::PickedUp).await?;
        Ok(OrderStatus::PickedUp)
    }

    #[update_validator(deliver)]
    fn validate_deliver(&self, _ctx: &WorkflowContextView, action: &RiderAction) -> Refused {
        self.check(
            self.picked_up && !self.delivered && !self.unwinding,
            "deliver needs an order that is PICKED_UP and not being refunded",
        )?;
        self.check_rider(action)
    }

    #[update]
    pub async fn deliver(
        ctx: &mut WorkflowContext<Self>,
        _action: RiderAction,
    ) -> Result<OrderStatus, Box<dyn std::error::Error + Send + Sync>> {
        ctx.state_mut(|s| s.delivered = true);
        record_status(ctx, OrderStatus::Delivered).await?;
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
            cause: self.cause.clone(),
            attention: self.attention.clone(),
            created_at: r.placed_at,
            updated_at: self.updated_at,
            timeline: self.timeline.clone(),
            seq: self.seq,
        }
    }

    /// Neither ending nor being unwound: shop and rider actions are still welcome.
    fn is_open(&self) -> bool {
        self.cancellation.is_none()
            && self.rejection.is_none()
            && !self.unwinding
            && !self.status.is_final()
    }

    fn cancellable(&self) -> Refused {
        let refuse = |why: String| Err(Refusal::new(ErrorCode::CannotCancel, why).into());
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
        if self.unwinding {
            return refuse(format!(
                "the order is already being refunded ({})",
                self.status
            ));
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
                ErrorCode::InvalidTransition,
                format!("{rule}; the order is {}", self.status),
            )
            .into())
        }
    }

    fn check_shop(&self, action: &ShopAction) -> Refused {
        if action.shop_id == self.request.shop_id {
            Ok(())
        } else {
            Err(Refusal::new(ErrorCode::WrongShop, "the order belongs to another shop").into())
        }
    }

    fn check_rider(&self, action: &RiderAction) -> Refused {
        match (&action.rider_id, &self.rider) {
            (Some(claimed), Some(rider)) if *claimed != rider.rider_id => Err(Refusal::new(
                ErrorCode::WrongRider,
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
                cause: Cause::Cancelled,
                reason: c.reason.clone(),
            });
        }
        self.rejection.as_ref().map(|reason| Unwind {
            status: OrderStatus::Rejected,
            cause: Cause::RejectedByShop,
            reason: reason.clone(),
        })
    }
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

/// Moves the order to `status` and makes it known (search attributes, read model, notifications),
/// the way the order's saga version does it.
async fn record_status(
    ctx: &WorkflowContext<OrderWorkflow>,
    status: OrderStatus,
) -> Result<(), ActivityExecutionError> {
    if ctx.state(|s| s.v2) {
        status::record(ctx, status, None).await.map(|_| ())
    } else {
        legacy::record_status(ctx, status, None).await
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
