//! Payment: charges the customer's card through the provider, once per order.

use std::sync::Arc;

use courier_workflows::contracts::{
    ChargePayment, ChargeReceipt, ChargeRequest, PAYMENT_DECLINED, RefundPayment, RefundReceipt,
    RefundRequest,
};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::failure::{non_retryable, retryable};
use crate::payment_client::{PaymentClient, ProviderError};

pub struct PaymentActivities {
    pub provider: PaymentClient,
}

/// Maps a provider error to an activity failure: only a declined card is final.
pub(crate) fn provider_failure(err: ProviderError) -> ActivityError {
    match err {
        ProviderError::Declined(message) => non_retryable(PAYMENT_DECLINED, message),
        other @ ProviderError::Unavailable(_) => {
            retryable("PaymentProviderUnavailable", other.to_string())
        }
        other @ ProviderError::Refused { .. } => {
            retryable("PaymentProviderRefused", other.to_string())
        }
    }
}

#[activities]
impl PaymentActivities {
    /// Charges the order's total with the key `order-{id}-charge`: a retry after a lost answer gets
    /// the same charge back from the provider instead of a second one.
    #[activity(definition = ChargePayment)]
    pub async fn charge_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ChargeRequest,
    ) -> Result<ChargeReceipt, ActivityError> {
        let source = input.source().ok_or_else(|| {
            non_retryable(
                PAYMENT_DECLINED,
                "the order carries neither a payment method nor a card",
            )
        })?;
        let charge = self
            .provider
            .charge(
                &input.order_id.effect_key("charge"),
                input.amount.minor,
                input.amount.currency.code(),
                source,
                &input.description,
                &input.order_id.to_string(),
            )
            .await
            .map_err(provider_failure)?;
        tracing::info!(order_id = %input.order_id, charge_id = %charge.id, "charged");
        Ok(ChargeReceipt {
            charge_id: charge.id,
        })
    }

    /// Refunds every charge the provider booked under this order's reference and has not fully
    /// refunded, each with the key `order-{id}-refund-{charge_id}`. Looking the charges up (rather
    /// than trusting a remembered id) also refunds a charge whose answer was lost.
    #[activity(definition = RefundPayment)]
    pub async fn refund_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: RefundRequest,
    ) -> Result<RefundReceipt, ActivityError> {
        let reference = input.order_id.to_string();
        let charges = self
            .provider
            .charges(&reference)
            .await
            .map_err(provider_failure)?;
        let mut refund_ids = Vec::new();
        for charge in charges.iter().filter(|c| c.status == "succeeded") {
            let left = charge.amount - charge.amount_refunded;
            if left <= 0 {
                continue;
            }
            let refund = self
                .provider
                .refund(
                    &input.order_id.effect_key(&format!("refund-{}", charge.id)),
                    &charge.id,
                    left,
                )
                .await
                .map_err(provider_failure)?;
            tracing::info!(order_id = %input.order_id, refund_id = %refund.id, "charge refunded");
            refund_ids.push(refund.id);
        }
        Ok(RefundReceipt { refund_ids })
    }
}
