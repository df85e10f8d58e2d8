//! Dispatch: finds a free rider for an accepted order, pays the delivery fee before the rider sets
//! off, and frees the rider once the delivery is over.

use std::sync::Arc;

use courier_workflows::contracts::{
    AssignRider, NO_RIDER_AVAILABLE, ORDER_RELEASED, PayRider, PayoutReceipt, ReleaseRider,
    RiderPayout,
};
use courier_workflows::domain::OrderId;
use courier_workflows::order::Rider;
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::failure::{non_retryable, retryable};
use crate::payment::provider_failure;
use crate::payment_client::PaymentClient;

pub struct DispatchActivities {
    pub db: PgPool,
    pub provider: PaymentClient,
}

#[activities]
impl DispatchActivities {
    /// Assigns the order a free rider, or returns the rider it already has. Riders are claimed with
    /// `FOR UPDATE SKIP LOCKED`, so concurrent orders never share one.
    #[activity(definition = AssignRider)]
    pub async fn assign_rider(
        self: Arc<Self>,
        _ctx: ActivityContext,
        order_id: OrderId,
    ) -> Result<Rider, ActivityError> {
        let mut tx = self.db.begin().await?;
        crate::lock_order(&mut tx, "dispatch", order_id).await?;
        let released: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM dispatch.released_orders WHERE order_id = $1)",
        )
        .bind(order_id.uuid())
        .fetch_one(&mut *tx)
        .await?;
        if released {
            // A late attempt after the order let its rider go: no rider is taken.
            return Err(non_retryable(
                ORDER_RELEASED,
                "the order no longer needs a rider",
            ));
        }
        let existing: Option<(String, String, String)> = sqlx::query_as(
            "SELECT r.rider_id, r.name, r.phone FROM dispatch.assignments a \
             JOIN dispatch.riders r USING (rider_id) WHERE a.order_id = $1",
        )
        .bind(order_id.uuid())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((rider_id, name, phone)) = existing {
            return Ok(Rider {
                rider_id,
                name,
                phone,
            });
        }
        let free: Option<(String, String, String)> = sqlx::query_as(
            "SELECT rider_id, name, phone FROM dispatch.riders WHERE available \
             ORDER BY rider_id LIMIT 1 FOR UPDATE SKIP LOCKED",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some((rider_id, name, phone)) = free else {
            return Err(retryable(NO_RIDER_AVAILABLE, "every rider is busy"));
        };
        sqlx::query("UPDATE dispatch.riders SET available = FALSE WHERE rider_id = $1")
            .bind(&rider_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO dispatch.assignments (order_id, rider_id) VALUES ($1, $2)")
            .bind(order_id.uuid())
            .bind(&rider_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(order_id = %order_id, rider_id = %rider_id, "rider assigned");
        Ok(Rider {
            rider_id,
            name,
            phone,
        })
    }

    /// Pays the rider's delivery fee with the key `order-{id}-rider-fee`, then records the payout
    /// on the assignment.
    #[activity(definition = PayRider)]
    pub async fn pay_rider(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: RiderPayout,
    ) -> Result<PayoutReceipt, ActivityError> {
        let payout = self
            .provider
            .payout(
                &input.order_id.effect_key("rider-fee"),
                input.fee.minor,
                input.fee.currency.code(),
                &input.rider_id,
                &input.order_id.to_string(),
            )
            .await
            .map_err(provider_failure)?;
        sqlx::query(
            "UPDATE dispatch.assignments SET fee_minor = $2, fee_payout_id = $3 WHERE order_id = $1",
        )
        .bind(input.order_id.uuid())
        .bind(input.fee.minor)
        .bind(&payout.id)
        .execute(&self.db)
        .await?;
        Ok(PayoutReceipt {
            payout_id: payout.id,
        })
    }

    /// Frees the order's rider; a second call finds the assignment released and does nothing, and
    /// an assignment attempt that arrives later takes no rider.
    #[activity(definition = ReleaseRider)]
    pub async fn release_rider(
        self: Arc<Self>,
        _ctx: ActivityContext,
        order_id: OrderId,
    ) -> Result<(), ActivityError> {
        let mut tx = self.db.begin().await?;
        crate::lock_order(&mut tx, "dispatch", order_id).await?;
        sqlx::query(
            "INSERT INTO dispatch.released_orders (order_id) VALUES ($1) ON CONFLICT DO NOTHING",
        )
        .bind(order_id.uuid())
        .execute(&mut *tx)
        .await?;
        let released: Option<String> = sqlx::query_scalar(
            "UPDATE dispatch.assignments SET released_at = now() \
             WHERE order_id = $1 AND released_at IS NULL RETURNING rider_id",
        )
        .bind(order_id.uuid())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(rider_id) = released {
            sqlx::query("UPDATE dispatch.riders SET available = TRUE WHERE rider_id = $1")
                .bind(rider_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
