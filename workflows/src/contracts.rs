//! The contracts of the saga's activities: their names in the Temporal UI, their inputs and their
//! outputs. The workflow schedules activities through these markers, so it never depends on the
//! crate that does the I/O; `courier-activities` implements each under the same name.

use serde::{Deserialize, Serialize};
use temporalio_common::ActivityDefinition;

use crate::domain::{
    CardNumber, MenuItemId, Money, OrderId, PaymentMethodId, PaymentSource, Quantity, ShopId,
};
use crate::order::{OrderLine, OrderStatus, OrderView, Rider};

/// Failure type of a declined card: non-retryable, the saga ends the order `PAYMENT_DECLINED`.
pub const PAYMENT_DECLINED: &str = "PaymentDeclined";
/// Failure type of "no rider free right now": retried with backoff.
pub const NO_RIDER_AVAILABLE: &str = "NoRiderAvailable";
/// Failure type of a step that arrives after its undo (a late attempt): it does nothing.
pub const ORDER_RELEASED: &str = "OrderReleased";
/// Failure type of a notification the provider refused for good (invalid number, 4xx): recorded,
/// not retried.
pub const NOTIFICATION_REJECTED: &str = "NotificationRejected";

macro_rules! activity_contract {
    ($(#[$doc:meta])* $marker:ident, $name:literal, $input:ty => $output:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $marker;

        impl $marker {
            pub const NAME: &'static str = $name;
        }

        impl ActivityDefinition for $marker {
            type Input = $input;
            type Output = $output;

            fn name(&self) -> &str {
                $name
            }
        }
    };
}

activity_contract!(
    /// Takes the order's items out of stock, all or nothing, once per order.
    ReserveStock, "reserve_stock", StockReservation => ReserveOutcome
);
activity_contract!(
    /// Puts an order's reserved items back; a no-op when nothing is reserved.
    ReleaseStock, "release_stock", OrderId => ()
);
activity_contract!(
    /// Charges the card once per order (idempotency key `order-{id}-charge`).
    ChargePayment, "charge_payment", ChargeRequest => ChargeReceipt
);
activity_contract!(
    /// Refunds whatever the order was charged, once per charge (idempotency key
    /// `order-{id}-refund-{charge_id}`). It finds the charges by the order's reference, so it also
    /// refunds a charge whose answer was lost to a timeout or a cancelled attempt.
    RefundPayment, "refund_payment", RefundRequest => RefundReceipt
);
activity_contract!(
    /// Tells the shop an order it was handed is off (cancelled, or no rider could take it).
    WithdrawFromShopBoard, "withdraw_from_shop_board", Withdrawal => ()
);
activity_contract!(
    /// Hands a paid order to its shop.
    PostToShopBoard, "post_to_shop_board", ShopTicket => ()
);
activity_contract!(
    /// Picks a free rider for the order, or returns the one already picked.
    AssignRider, "assign_rider", OrderId => Rider
);
activity_contract!(
    /// Pays the rider's delivery fee once per order (idempotency key `order-{id}-rider-fee`).
    PayRider, "pay_rider", RiderPayout => PayoutReceipt
);
activity_contract!(
    /// Makes the order's rider available again once the delivery is over.
    ReleaseRider, "release_rider", OrderId => ()
);
activity_contract!(
    /// Writes the order's view to the read model, if it is newer than what is there.
    ProjectOrder, "project_order", OrderView => ()
);
activity_contract!(
    /// Makes one status change known, in one transaction: the order's view into the read model (if
    /// newer than what is there) and the SMS and emails it owes into the notification outbox, which
    /// the worker's dispatcher sends. The first change of an order also claims its placement,
    /// unless the API gave it up. Run as a local activity.
    RecordStatus, "record_status", StatusChange => RecordOutcome
);
activity_contract!(
    /// Records the SMS and email that announce a status change to the customer (and, for new and
    /// withdrawn orders, to the shop): the notification log, one row per audience and channel.
    RecordNotifications, "record_notifications", NotificationRequest => ()
);
activity_contract!(
    /// The log rows of a status change that still need sending.
    PendingNotifications, "pending_notifications", NotificationBatch => Vec<NotificationKey>
);
activity_contract!(
    /// Sends one logged SMS through Twilio, unless it was already sent, failed for good or skipped.
    SendSms, "send_sms", NotificationKey => DeliveryOutcome
);
activity_contract!(
    /// Sends one logged email over SMTP, unless it was already sent, failed for good or skipped.
    SendEmail, "send_email", NotificationKey => DeliveryOutcome
);

activity_contract!(
    /// Compares the payment provider's ledger with Courier's orders and answers what disagrees.
    FindDiscrepancies, "find_discrepancies", ReconcileScope => Vec<Finding>
);
activity_contract!(
    /// Stores one reconciliation run and its findings (what `/admin/reconciliation` shows).
    RecordReconciliation, "record_reconciliation", Vec<Finding> => i64
);

/// Which part of the books a reconciliation looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileScope {
    /// Orders that ended (or charges made) less than this long ago are left alone: their saga may
    /// still be settling them.
    pub grace_secs: u64,
    /// How far back the provider's ledger is read.
    pub lookback_secs: u64,
}

/// One disagreement between the provider's books and Courier's orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub order_id: OrderId,
    pub kind: FindingKind,
    /// What was found, in minor units where it is money.
    pub amount_minor: i64,
    pub detail: String,
    /// A refund owed was made by this run.
    pub repaired: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Charged, and the order ended without a delivery and without a full refund: a refund is owed.
    ChargeNotRefunded,
    /// Charged for an order Courier has no record of (a placement given up): a refund is owed.
    ChargeWithoutOrder,
    /// More refunded than charged.
    RefundWithoutCharge,
    /// The rider's fee paid more than once.
    DuplicatePayout,
    /// Delivered, and the provider has no charge for it.
    DeliveredWithoutCharge,
}

impl FindingKind {
    pub const ALL: [FindingKind; 5] = [
        Self::ChargeNotRefunded,
        Self::ChargeWithoutOrder,
        Self::RefundWithoutCharge,
        Self::DuplicatePayout,
        Self::DeliveredWithoutCharge,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ChargeNotRefunded => "charge_not_refunded",
            Self::ChargeWithoutOrder => "charge_without_order",
            Self::RefundWithoutCharge => "refund_without_charge",
            Self::DuplicatePayout => "duplicate_payout",
            Self::DeliveredWithoutCharge => "delivered_without_charge",
        }
    }

    /// Whether reconciliation repairs it by itself: a refund owed, through `refund_payment`.
    pub fn owes_refund(&self) -> bool {
        matches!(self, Self::ChargeNotRefunded | Self::ChargeWithoutOrder)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReservation {
    pub order_id: OrderId,
    pub shop_id: ShopId,
    pub items: Vec<(MenuItemId, Quantity)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReserveOutcome {
    Reserved,
    OutOfStock {
        menu_item_id: MenuItemId,
        name: String,
        available: i64,
    },
    /// The order's stock was already given back (a late attempt): nothing was reserved.
    Released,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChargeRequest {
    pub order_id: OrderId,
    pub amount: Money,
    /// Set only by orders placed before cards were tokenized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<CardNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<PaymentMethodId>,
    pub description: String,
}

impl ChargeRequest {
    /// What to charge: the payment method, or a legacy order's card.
    pub fn source(&self) -> Option<PaymentSource<'_>> {
        match (&self.payment_method, &self.card) {
            (Some(method), _) => Some(PaymentSource::Method(method)),
            (None, Some(card)) => Some(PaymentSource::Card(card)),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeReceipt {
    pub charge_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    pub order_id: OrderId,
}

/// The refunds made (none when nothing was charged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundReceipt {
    pub refund_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    pub order_id: OrderId,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopTicket {
    pub order_id: OrderId,
    pub shop_id: ShopId,
    pub lines: Vec<OrderLine>,
    pub total_minor: i64,
    pub delivery_address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiderPayout {
    pub order_id: OrderId,
    pub rider_id: String,
    pub fee: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutReceipt {
    pub payout_id: String,
}

/// One status change to announce to the customer, by SMS and by email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRequest {
    pub order_id: OrderId,
    pub status: OrderStatus,
    pub shop_name: String,
    pub phone: String,
    pub email: String,
    pub reason: Option<String>,
    /// The customer's language (`ko`, `en`); absent in orders placed before it existed.
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub shop_id: Option<String>,
    #[serde(default)]
    pub total_minor: Option<i64>,
}

/// One status change of an order: its new view, and what to tell whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub view: OrderView,
    pub notification: NotificationRequest,
    pub delivery: NotificationPolicy,
}

/// Whether a status change was recorded; only an order's first can find its placement abandoned
/// (the API answered `503` before the workflow ran), and then nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordOutcome {
    Recorded,
    Abandoned,
}

/// The notifications of one status change, and how hard to try sending them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationBatch {
    pub order_id: OrderId,
    pub status: OrderStatus,
    pub policy: NotificationPolicy,
}

/// Retries of notification sending: their own, so a notification never holds an order up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationPolicy {
    pub attempt_timeout_secs: u64,
    pub initial_retry_interval_ms: u64,
    pub max_retry_interval_secs: u64,
    /// After this long, a notification that could not be sent is given up (and logged).
    pub give_up_after_secs: u64,
}

/// One row of the notification log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationKey {
    pub order_id: OrderId,
    pub status: OrderStatus,
    pub audience: String,
    pub channel: String,
}

/// What became of one notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryOutcome {
    pub state: String,
    pub provider_id: Option<String>,
}
