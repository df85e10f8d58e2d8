//! Notifications: the log of the SMS and email each status change owes the customer. This step
//! records them (once per order, status and channel); sending them is a separate concern.

use std::sync::Arc;

use courier_workflows::contracts::{NotificationRequest, RecordNotifications};
use courier_workflows::order::OrderStatus;
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub struct NotificationActivities {
    pub db: PgPool,
}

/// The customer-facing sentence for a status change: which shop, what happened, what comes next.
pub fn message(n: &NotificationRequest) -> String {
    let shop = &n.shop_name;
    let why = n.reason.as_deref().unwrap_or("no reason given");
    match n.status {
        OrderStatus::PaymentPending => format!("We are confirming your payment for {shop}."),
        OrderStatus::Paid => format!("Paid. {shop} has your order and will confirm it shortly."),
        OrderStatus::PaymentDeclined => {
            format!("Your card was declined ({why}); {shop} did not receive the order.")
        }
        OrderStatus::OutOfStock => {
            format!("{shop} cannot take your order: {why}. Nothing was charged.")
        }
        OrderStatus::Accepted => format!("{shop} accepted your order and is preparing it."),
        OrderStatus::RiderAssigned => "A rider is assigned to your order.".to_owned(),
        OrderStatus::Ready => format!("{shop} has your order ready for the rider."),
        OrderStatus::PickedUp => format!("Your order left {shop} and is on its way."),
        OrderStatus::Delivered => format!("Delivered. Enjoy your order from {shop}!"),
        OrderStatus::Rejected => {
            format!("{shop} could not take your order ({why}). Your payment is refunded in full.")
        }
        OrderStatus::Cancelling => format!("We are cancelling your order from {shop} ({why})."),
        OrderStatus::Cancelled => {
            format!("Your order from {shop} is cancelled ({why}). Any payment is refunded in full.")
        }
        OrderStatus::PaymentFailed => format!(
            "We could not take your payment for {shop} ({why}). The order is off; nothing is owed."
        ),
        OrderStatus::NeedsAttention => format!(
            "Your order from {shop} needs a hand from our team; we are on it and will update you."
        ),
    }
}

#[activities]
impl NotificationActivities {
    #[activity(definition = RecordNotifications)]
    pub async fn record_notifications(
        self: Arc<Self>,
        _ctx: ActivityContext,
        n: NotificationRequest,
    ) -> Result<(), ActivityError> {
        let body = format!("[Courier] {} Order {}", message(&n), n.order_id);
        let subject = format!("Your order {}: {}", n.order_id, n.status);
        for (channel, recipient, subject) in [
            ("sms", n.phone.as_str(), None),
            ("email", n.email.as_str(), Some(subject.as_str())),
        ] {
            sqlx::query(
                "INSERT INTO notifications.messages (order_id, status, channel, recipient, subject, body) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (order_id, status, channel) DO NOTHING",
            )
            .bind(n.order_id.uuid())
            .bind(n.status.as_str())
            .bind(channel)
            .bind(recipient)
            .bind(subject)
            .bind(&body)
            .execute(&self.db)
            .await?;
        }
        Ok(())
    }
}
