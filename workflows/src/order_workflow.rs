//! The order saga: one workflow per order, id `order-{order_id}`.
//!
//! The run method drives the steps the saga owns (reserve, charge, hand to the shop, dispatch and
//! pay a rider, release the rider); shop and rider actions arrive as updates whose validators
//! refuse a transition that is not allowed, so a refused action never enters history. Every status
//! change, whoever makes it, goes through [`record_status`]: it bumps the view's sequence number,
//! upserts the search attributes, projects the view into the read model and records the customer's
//! notifications, before the caller (an update's client included) hears of it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use temporalio_common::RetryPolicy;
use temporalio_common::search_attributes::SearchAttributeKey;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult,
};

use crate::contracts::{
    AssignRider, ChargePayment, ChargeRequest, NotificationRequest, PAYMENT_DECLINED, PayRider,
    PostToShopBoard, ProjectOrder, RecordNotifications, RefundPayment, RefundRequest, ReleaseRider,
    ReleaseStock, ReserveOutcome, ReserveStock, RiderPayout, ShopTicket, StockReservation,
};
use crate::domain::Money;
use crate::order::{
    OrderRequest, OrderStatus, OrderView, PaymentResult, Refusal, RefusalCode, Rider, RiderAction,
    ShopAction, ShopRejection, TimelineEntry,
};

/// Search attributes operators filter orders by in the Temporal UI.
pub const ORDER_STATUS: SearchAttributeKey<String> = SearchAttributeKey::keyword("OrderStatus");
pub const CUSTOMER_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("CustomerId");
pub const SHOP_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("ShopId");

type Refused = Result<(), Box<dyn std::error::Error + Send + Sync>>;

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
    /// Set once stock and payment are settled; `await_payment` answers with it.
    payment: Option<PaymentResult>,
    /// The provider's id of the order's charge, once charged: what a refund refers to.
    charge_id: Option<String>,
    accepted: bool,
    /// The shop's reason, once it turned the order down.
    rejection: Option<String>,
    rider: Option<Rider>,
    ready: bool,
    picked_up: bool,
    delivered: bool,
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
            payment: None,
            charge_id: None,
            accepted: false,
            rejection: None,
            rider: None,
            ready: false,
            picked_up: false,
            delivered: false,
            request,
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<OrderView> {
        let request = ctx.state(|s| s.request.clone());
        let opts = activity_options(&request, &[]);
        record_status(ctx, OrderStatus::PaymentPending, None).await?;

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
            let reason = format!("{name} is out of stock");
            record_status(ctx, OrderStatus::OutOfStock, Some(reason)).await?;
            ctx.state_mut(|s| s.payment = Some(PaymentResult::OutOfStock { menu_item_id, name }));
            return finish(ctx).await;
        }

        let charge = ChargeRequest {
            order_id: request.order_id,
            amount: request.total,
            card: request.card.clone(),
            description: format!("{} order {}", request.shop_name, request.order_id),
        };
        let charge_opts = activity_options(&request, &[PAYMENT_DECLINED]);
        match ctx
            .execute_activity(ChargePayment, charge, charge_opts)
            .await
        {
            Ok(receipt) => ctx.state_mut(|s| s.charge_id = Some(receipt.charge_id)),
            Err(err) if failure_type(&err) == Some(PAYMENT_DECLINED) => {
                let reason = failure_message(&err);
                ctx.execute_activity(ReleaseStock, request.order_id, opts.clone())
                    .await?;
                record_status(ctx, OrderStatus::PaymentDeclined, Some(reason.clone())).await?;
                ctx.state_mut(|s| s.payment = Some(PaymentResult::Declined { reason }));
                return finish(ctx).await;
            }
            Err(err) => return Err(err.into()),
        }
        record_status(ctx, OrderStatus::Paid, None).await?;
        ctx.state_mut(|s| s.payment = Some(PaymentResult::Paid));

        let ticket = ShopTicket {
            order_id: request.order_id,
            shop_id: request.shop_id.clone(),
            lines: request.lines.clone(),
            total_minor: request.total.minor,
            delivery_address: request.delivery_address.as_str().to_owned(),
        };
        ctx.execute_activity(PostToShopBoard, ticket, opts.clone())
            .await?;
        ctx.wait_condition(|s| s.accepted || s.rejection.is_some())
            .await?;
        if let Some(reason) = ctx.state(|s| s.rejection.clone()) {
            let refund = RefundRequest {
                order_id: request.order_id,
                charge_id: ctx.state(|s| s.charge_id.clone()).unwrap_or_default(),
                amount: request.total,
            };
            ctx.execute_activity(RefundPayment, refund, opts.clone())
                .await?;
            ctx.execute_activity(ReleaseStock, request.order_id, opts.clone())
                .await?;
            record_status(ctx, OrderStatus::Rejected, Some(reason)).await?;
            return finish(ctx).await;
        }

        let rider = ctx
            .execute_activity(AssignRider, request.order_id, opts.clone())
            .await?;
        let payout = RiderPayout {
            order_id: request.order_id,
            rider_id: rider.rider_id.clone(),
            fee: Money::new(request.policy.delivery_fee_minor, request.total.currency),
        };
        ctx.execute_activity(PayRider, payout, opts.clone()).await?;
        ctx.state_mut(|s| s.rider = Some(rider));
        record_status(ctx, OrderStatus::RiderAssigned, None).await?;

        ctx.wait_condition(|s| s.delivered).await?;
        ctx.execute_activity(ReleaseRider, request.order_id, opts)
            .await?;
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
            self.status == OrderStatus::Paid && self.rejection.is_none(),
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
            self.status == OrderStatus::Paid && self.rejection.is_none(),
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
        ctx.wait_condition(|s| s.status == OrderStatus::Rejected && s.projected_seq == s.seq)
            .await?;
        Ok(OrderStatus::Rejected)
    }

    #[update_validator(ready)]
    fn validate_ready(&self, _ctx: &WorkflowContextView, action: &ShopAction) -> Refused {
        self.check_shop(action)?;
        self.check(
            self.accepted && !self.ready && !self.picked_up,
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
            self.ready && self.rider.is_some() && !self.picked_up,
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
            created_at: r.placed_at,
            updated_at: self.updated_at,
            timeline: self.timeline.clone(),
            seq: self.seq,
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
}

/// Moves the order to `status` and makes it known: search attributes, read model, notifications.
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
            reason,
        };
        (s.view(), notification, activity_options(&s.request, &[]))
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
        .await
}

/// Ends the run once every update handler has answered, so no caller is left without a reply.
async fn finish(ctx: &mut WorkflowContext<OrderWorkflow>) -> WorkflowResult<OrderView> {
    let handlers = ctx.clone();
    ctx.wait_condition(move |_| handlers.all_handlers_finished())
        .await?;
    Ok(ctx.state(|s| s.view()))
}

fn workflow_now(ctx: &WorkflowContext<OrderWorkflow>) -> DateTime<Utc> {
    ctx.workflow_time()
        .map(DateTime::<Utc>::from)
        .unwrap_or_else(|| ctx.state(|s| s.request.placed_at))
}

/// Options of the saga's activities: explicit timeouts and unlimited retries with capped
/// exponential backoff, except for the failure types named, which a retry cannot fix.
fn activity_options(request: &OrderRequest, non_retryable: &[&str]) -> ActivityOptions {
    let policy = &request.policy;
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(policy.activity_timeout_secs))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(policy.initial_retry_interval_ms))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(policy.max_retry_interval_secs))
                .non_retryable_error_types(non_retryable.iter().map(|t| (*t).to_owned()))
                .build(),
        )
        .build()
}

fn failure_type(err: &ActivityExecutionError) -> Option<&str> {
    match err.reason() {
        Some(temporalio_common::error::IncomingError::Application(app)) => app.type_name(),
        _ => None,
    }
}

fn failure_message(err: &ActivityExecutionError) -> String {
    err.reason()
        .map(|r| r.failure().message.clone())
        .unwrap_or_else(|| err.to_string())
}
