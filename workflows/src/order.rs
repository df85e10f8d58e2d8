//! What an order is: its request, its statuses, and the view the read model and the `status`
//! query both show. These types travel through Temporal history, so a change to them must stay
//! readable by histories already recorded (add optional fields; never rename or remove).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::codes::ErrorCode;
use crate::domain::{
    CardNumber, CustomerId, DeliveryAddress, EmailAddress, MenuItemId, Money, OrderId,
    PaymentMethodId, PhoneNumber, Quantity, ShopId,
};

/// Where an order is in its life. The happy path is
/// `PAYMENT_PENDING → PAID → ACCEPTED → (RIDER_ASSIGNED, READY in either order) → PICKED_UP →
/// DELIVERED`; `PAYMENT_DECLINED` and `OUT_OF_STOCK` end an order before the shop sees it;
/// `REJECTED` ends one the shop turned down or let time out, or no rider could take (refunded,
/// stock released); `CANCELLING` → `CANCELLED` is a customer's cancellation being compensated;
/// `PAYMENT_FAILED` ends an order whose payment stayed impossible past its deadline;
/// `COMPENSATING` is the saga undoing what it did for any other reason than a cancellation (the
/// shop's rejection or timeout, no rider, a declined or failed payment, a missed deadline);
/// `NEEDS_ATTENTION` is a step that failed after its retries (or a delivery overdue) and waits for
/// an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    PaymentPending,
    Paid,
    PaymentDeclined,
    OutOfStock,
    Accepted,
    RiderAssigned,
    Ready,
    PickedUp,
    Delivered,
    Rejected,
    Cancelling,
    Cancelled,
    PaymentFailed,
    NeedsAttention,
    Compensating,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 15] = [
        Self::PaymentPending,
        Self::Paid,
        Self::PaymentDeclined,
        Self::OutOfStock,
        Self::Accepted,
        Self::RiderAssigned,
        Self::Ready,
        Self::PickedUp,
        Self::Delivered,
        Self::Rejected,
        Self::Cancelling,
        Self::Cancelled,
        Self::PaymentFailed,
        Self::NeedsAttention,
        Self::Compensating,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::PaymentPending => "PAYMENT_PENDING",
            Self::Paid => "PAID",
            Self::PaymentDeclined => "PAYMENT_DECLINED",
            Self::OutOfStock => "OUT_OF_STOCK",
            Self::Accepted => "ACCEPTED",
            Self::RiderAssigned => "RIDER_ASSIGNED",
            Self::Ready => "READY",
            Self::PickedUp => "PICKED_UP",
            Self::Delivered => "DELIVERED",
            Self::Rejected => "REJECTED",
            Self::Cancelling => "CANCELLING",
            Self::Cancelled => "CANCELLED",
            Self::PaymentFailed => "PAYMENT_FAILED",
            Self::NeedsAttention => "NEEDS_ATTENTION",
            Self::Compensating => "COMPENSATING",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether the shop has been handed this order (it shows on the shop's board).
    pub fn is_on_shop_board(&self) -> bool {
        !matches!(
            self,
            Self::PaymentPending
                | Self::PaymentDeclined
                | Self::OutOfStock
                | Self::PaymentFailed
                | Self::Compensating
        )
    }

    /// Whether the order has ended (its workflow is completing or complete).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::PaymentDeclined
                | Self::OutOfStock
                | Self::PaymentFailed
                | Self::Delivered
                | Self::Rejected
                | Self::Cancelled
        )
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of an order, priced when the order was placed: later menu changes do not touch it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderLine {
    #[schema(value_type = String)]
    pub menu_item_id: MenuItemId,
    pub name: String,
    #[schema(value_type = u32, minimum = 1, maximum = 99)]
    pub quantity: Quantity,
    pub unit_price_minor: i64,
}

/// Timeouts and retry settings of one order's saga. They are part of the workflow's input, so a
/// configuration change applies to new orders and never changes the replay of running ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SagaPolicy {
    /// Start-to-close timeout of one activity attempt.
    pub activity_timeout_secs: u64,
    /// First retry interval of a failed activity; doubles up to `max_retry_interval_secs`.
    pub initial_retry_interval_ms: u64,
    pub max_retry_interval_secs: u64,
    /// What the rider is paid for delivering this order, in the order's currency.
    pub delivery_fee_minor: i64,
    /// How long the shop has to accept a paid order before it is rejected (`shop_timeout`).
    pub shop_accept_timeout_secs: u64,
    /// How long dispatch keeps looking for a free rider before the order is rejected (`no_rider`).
    pub dispatch_timeout_secs: u64,
    /// How long the saga keeps trying to charge before the order ends `PAYMENT_FAILED`.
    pub payment_deadline_secs: u64,
    /// Attempts of one compensation step before the order goes to `NEEDS_ATTENTION`.
    pub compensation_attempts: u32,
    /// Attempts at paying the rider's fee before the order goes to `NEEDS_ATTENTION`.
    #[serde(default = "default_payout_attempts")]
    pub payout_attempts: u32,
    /// How long the shop has to have an accepted order ready before it is rejected (`not_ready`).
    #[serde(default = "default_ready_timeout_secs")]
    pub ready_timeout_secs: u64,
    /// How long a ready order may wait for its rider before it is rejected (`not_picked_up`).
    #[serde(default = "default_pickup_timeout_secs")]
    pub pickup_timeout_secs: u64,
    /// How long a picked-up order may take to be delivered before an operator is asked to look.
    #[serde(default = "default_delivery_timeout_secs")]
    pub delivery_timeout_secs: u64,
    /// Longest wait between two attempts to send a notification.
    #[serde(default = "default_notification_retry_secs")]
    pub notification_max_retry_interval_secs: u64,
    /// How long a notification keeps being retried before it is given up (and logged).
    #[serde(default = "default_notification_give_up_secs")]
    pub notification_give_up_after_secs: u64,
}

fn default_payout_attempts() -> u32 {
    10
}

fn default_ready_timeout_secs() -> u64 {
    3_600
}

fn default_pickup_timeout_secs() -> u64 {
    3_600
}

fn default_delivery_timeout_secs() -> u64 {
    7_200
}

fn default_notification_retry_secs() -> u64 {
    300
}

fn default_notification_give_up_secs() -> u64 {
    86_400
}

impl SagaPolicy {
    /// Refuses settings under which the saga could not keep its promises: a rider paid nothing, a
    /// compensation or payout never attempted, a deadline of zero.
    pub fn check(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.delivery_fee_minor <= 0 {
            problems
                .push("the delivery fee (COURIER_DELIVERY_FEE_MINOR) must be above 0".to_owned());
        }
        for (name, value) in [
            ("COURIER_COMPENSATION_ATTEMPTS", self.compensation_attempts),
            ("COURIER_PAYOUT_ATTEMPTS", self.payout_attempts),
        ] {
            if value == 0 {
                problems.push(format!("{name} must be at least 1"));
            }
        }
        for (name, value) in [
            ("COURIER_ACTIVITY_TIMEOUT_SECS", self.activity_timeout_secs),
            ("COURIER_RETRY_MAX_SECS", self.max_retry_interval_secs),
            (
                "COURIER_SHOP_ACCEPT_TIMEOUT_SECS",
                self.shop_accept_timeout_secs,
            ),
            ("COURIER_DISPATCH_TIMEOUT_SECS", self.dispatch_timeout_secs),
            ("COURIER_PAYMENT_DEADLINE_SECS", self.payment_deadline_secs),
            ("COURIER_READY_TIMEOUT_SECS", self.ready_timeout_secs),
            ("COURIER_PICKUP_TIMEOUT_SECS", self.pickup_timeout_secs),
            ("COURIER_DELIVERY_TIMEOUT_SECS", self.delivery_timeout_secs),
            (
                "COURIER_NOTIFICATION_GIVE_UP_SECS",
                self.notification_give_up_after_secs,
            ),
        ] {
            if value == 0 {
                problems.push(format!("{name} must be above 0"));
            }
        }
        if self.initial_retry_interval_ms == 0 {
            problems.push("COURIER_RETRY_INITIAL_MS must be above 0".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

impl Default for SagaPolicy {
    fn default() -> Self {
        Self {
            activity_timeout_secs: 30,
            initial_retry_interval_ms: 1_000,
            max_retry_interval_secs: 60,
            delivery_fee_minor: 3_000,
            shop_accept_timeout_secs: 600,
            dispatch_timeout_secs: 900,
            payment_deadline_secs: 3_600,
            compensation_attempts: 10,
            payout_attempts: default_payout_attempts(),
            ready_timeout_secs: default_ready_timeout_secs(),
            pickup_timeout_secs: default_pickup_timeout_secs(),
            delivery_timeout_secs: default_delivery_timeout_secs(),
            notification_max_retry_interval_secs: default_notification_retry_secs(),
            notification_give_up_after_secs: default_notification_give_up_secs(),
        }
    }
}

/// Everything the saga needs, fixed when the order is placed. It is the workflow's input.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderRequest {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub shop_id: ShopId,
    pub shop_name: String,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub delivery_address: DeliveryAddress,
    pub phone: PhoneNumber,
    pub email: EmailAddress,
    /// The card number itself: only orders placed before cards were tokenized carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<CardNumber>,
    /// The provider's token for the customer's card (every order placed since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<PaymentMethodId>,
    pub placed_at: DateTime<Utc>,
    pub policy: SagaPolicy,
    /// The language the customer is written to in (`ko`, `en`); orders placed before it existed
    /// have none and get the default.
    #[serde(default)]
    pub language: Option<Language>,
}

/// The languages customers can be written to in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Ko,
    En,
}

impl Language {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "ko" => Some(Self::Ko),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Ko => "ko",
            Self::En => "en",
        }
    }
}

/// The rider carrying an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rider {
    pub rider_id: String,
    pub name: String,
    pub phone: String,
}

/// One status the order went through, with the workflow time it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub seq: i64,
    pub status: OrderStatus,
    pub at: DateTime<Utc>,
}

/// The order as its workflow sees it: what the `status` query returns and what the read model
/// stores. `seq` grows with every status change; the read model only applies a newer one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub shop_id: ShopId,
    pub status: OrderStatus,
    pub items: Vec<OrderLine>,
    pub total_minor: i64,
    pub currency: String,
    pub delivery_address: DeliveryAddress,
    pub rider: Option<Rider>,
    /// Why the order ended early (declined card, item out of stock, the shop's reason, ...).
    pub reason: Option<String>,
    /// The same, as data (absent in views recorded before it existed).
    #[serde(default)]
    pub cause: Option<Cause>,
    /// The compensation step waiting for an operator, while `NEEDS_ATTENTION`.
    pub attention: Option<Attention>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub timeline: Vec<TimelineEntry>,
    pub seq: i64,
}

/// A compensation step that failed after its retries: what operators see and retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attention {
    pub step: String,
    pub error: String,
    pub attempts: u32,
}

/// A customer's (or an operator's) request to cancel an order, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub reason: String,
}

/// What `POST /orders` learns in the same request: the result of reserving stock and charging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PaymentResult {
    Paid,
    Declined {
        reason: String,
    },
    OutOfStock {
        menu_item_id: MenuItemId,
        name: String,
    },
    /// The order ended before its payment settled (cancelled, payment impossible).
    Ended {
        status: OrderStatus,
        reason: String,
    },
}

/// A shop owner's action on an order (`accept`, `ready`); the shop must be the order's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopAction {
    pub shop_id: ShopId,
}

/// A shop owner turning an order down, with the reason the customer will read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopRejection {
    pub shop_id: ShopId,
    pub reason: String,
}

/// A rider's action on an order (`pickup`, `deliver`); when the rider names itself it must be the
/// assigned one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiderAction {
    pub rider_id: Option<String>,
}

/// Why an update was refused. It crosses the update boundary as its JSON
/// (`{"code": "invalid_transition", "message": "..."}`): the SDK carries only a failure's message
/// from a validator, so the message is the refusal's data, read back with [`Refusal::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Reads a refusal back from an update failure's message.
    pub fn parse(message: &str) -> Option<Self> {
        serde_json::from_str(message).ok()
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let json = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&json)
    }
}

impl std::error::Error for Refusal {}

/// Why an order ended early (or is being undone), as data: the code a client branches on and
/// what it names. The `reason` beside it in the view is the sentence people read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Cause {
    /// An item ran out before the charge.
    OutOfStock {
        #[schema(value_type = String)]
        menu_item_id: MenuItemId,
    },
    /// The provider declined the card.
    PaymentDeclined,
    /// The payment stayed impossible past its deadline.
    PaymentFailed,
    /// The customer (or an operator through the API) cancelled it.
    Cancelled,
    /// The shop turned it down.
    RejectedByShop,
    /// The shop did not accept it in time.
    ShopTimeout,
    /// No rider could take it in time.
    NoRider,
    /// The shop did not have it ready in time.
    NotReady,
    /// The rider did not pick it up in time.
    NotPickedUp,
    /// Its workflow was cancelled in Temporal.
    WorkflowCancelled,
    /// An operator compensated it after its workflow was terminated.
    Compensated,
    /// A step failed unexpectedly; the money went back.
    Failed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!(OrderStatus::parse("SHIPPED"), None);
    }

    #[test]
    fn unsafe_saga_settings_are_refused_with_every_problem_named() {
        assert_eq!(SagaPolicy::default().check(), Ok(()));
        let unsafe_policy = SagaPolicy {
            delivery_fee_minor: 0,
            compensation_attempts: 0,
            ..SagaPolicy::default()
        };
        let problems = unsafe_policy.check().unwrap_err();
        assert!(
            problems.contains("COURIER_DELIVERY_FEE_MINOR"),
            "{problems}"
        );
        assert!(
            problems.contains("COURIER_COMPENSATION_ATTEMPTS"),
            "{problems}"
        );
    }

    #[test]
    fn refusals_survive_the_trip_through_an_update_failure_message() {
        let refusal = Refusal::new(ErrorCode::InvalidTransition, "pickup needs READY: not yet");
        assert_eq!(Refusal::parse(&refusal.to_string()), Some(refusal));
        assert_eq!(Refusal::parse("something else"), None);
    }
}
