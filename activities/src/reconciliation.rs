//! Reconciliation: the payment provider's books against Courier's orders. Whatever crashed, timed
//! out or raced, every won charged must end delivered or refunded, every rider fee be paid once,
//! and no delivered order go unpaid; this is where a disagreement is found (and, when it is a
//! refund owed, repaired by the reconciliation workflow through `refund_payment`).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use courier_workflows::contracts::{
    FindDiscrepancies, Finding, FindingKind, ReconcileScope, RecordReconciliation,
};
use courier_workflows::domain::OrderId;
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::payment::provider_failure;
use crate::payment_client::PaymentClient;

pub struct ReconciliationActivities {
    pub db: PgPool,
    pub provider: PaymentClient,
}

/// What the provider booked for one order.
#[derive(Debug, Default)]
struct Books {
    charged: i64,
    refunded: i64,
    payouts: u32,
    last_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Statuses in which an order holds no money of the customer's (once settled).
const ENDED_UNDELIVERED: [&str; 5] = [
    "REJECTED",
    "CANCELLED",
    "PAYMENT_FAILED",
    "PAYMENT_DECLINED",
    "OUT_OF_STOCK",
];

#[activities]
impl ReconciliationActivities {
    #[activity(definition = FindDiscrepancies)]
    pub async fn find_discrepancies(
        self: Arc<Self>,
        _ctx: ActivityContext,
        scope: ReconcileScope,
    ) -> Result<Vec<Finding>, ActivityError> {
        let now = chrono::Utc::now();
        let since =
            now - chrono::Duration::seconds(scope.lookback_secs.min(i64::MAX as u64) as i64);
        let settled_before = now - chrono::Duration::seconds(scope.grace_secs as i64);
        let mut books: BTreeMap<uuid::Uuid, Books> = BTreeMap::new();
        let mut after: Option<(chrono::DateTime<chrono::Utc>, String)> =
            Some((since, String::new()));
        loop {
            let (entries, more) = self
                .provider
                .ledger_page(after.as_ref().map(|(at, id)| (*at, id.as_str())), 500)
                .await
                .map_err(provider_failure)?;
            for entry in &entries {
                let Some(order_id) = entry
                    .reference
                    .as_deref()
                    .and_then(|r| uuid::Uuid::parse_str(r).ok())
                else {
                    continue;
                };
                if entry.status != "succeeded" {
                    continue;
                }
                let b = books.entry(order_id).or_default();
                match entry.kind.as_str() {
                    "charge" => b.charged += entry.amount,
                    "refund" => b.refunded += entry.amount,
                    "payout" => b.payouts += 1,
                    _ => {}
                }
                b.last_at = Some(
                    b.last_at
                        .map_or(entry.created_at, |t| t.max(entry.created_at)),
                );
            }
            after = entries.last().map(|e| (e.created_at, e.id.clone()));
            if !more || after.is_none() {
                break;
            }
        }

        let ids: Vec<uuid::Uuid> = books.keys().copied().collect();
        let orders: Vec<(uuid::Uuid, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
            "SELECT order_id, status, updated_at FROM orders.orders WHERE order_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&self.db)
        .await?;
        let known: BTreeMap<uuid::Uuid, (String, chrono::DateTime<chrono::Utc>)> = orders
            .into_iter()
            .map(|(id, status, at)| (id, (status, at)))
            .collect();

        let mut findings = Vec::new();
        let mut finding = |order_id: uuid::Uuid, kind: FindingKind, amount: i64, detail: String| {
            findings.push(Finding {
                order_id: OrderId::new(order_id),
                kind,
                amount_minor: amount,
                detail,
                repaired: false,
            });
        };
        for (order_id, b) in &books {
            let quiet = b.last_at.is_none_or(|t| t <= settled_before);
            let owed = b.charged - b.refunded;
            match known.get(order_id) {
                Some((status, updated_at)) => {
                    let ended = ENDED_UNDELIVERED.contains(&status.as_str());
                    if ended && owed > 0 && *updated_at <= settled_before && quiet {
                        finding(
                            *order_id,
                            FindingKind::ChargeNotRefunded,
                            owed,
                            format!(
                                "the order ended {status} with {owed} charged and not refunded"
                            ),
                        );
                    }
                }
                None if owed > 0 && quiet => finding(
                    *order_id,
                    FindingKind::ChargeWithoutOrder,
                    owed,
                    format!("{owed} charged for an order Courier has no record of"),
                ),
                None => {}
            }
            if b.refunded > b.charged {
                finding(
                    *order_id,
                    FindingKind::RefundWithoutCharge,
                    b.refunded - b.charged,
                    format!("{} refunded against {} charged", b.refunded, b.charged),
                );
            }
            if b.payouts > 1 {
                finding(
                    *order_id,
                    FindingKind::DuplicatePayout,
                    i64::from(b.payouts),
                    format!("the rider's fee was paid {} times", b.payouts),
                );
            }
        }
        let charged: HashSet<uuid::Uuid> = books
            .iter()
            .filter(|(_, b)| b.charged > 0)
            .map(|(id, _)| *id)
            .collect();
        let delivered: Vec<uuid::Uuid> = sqlx::query_scalar(
            "SELECT order_id FROM orders.orders WHERE status = 'DELIVERED' \
               AND updated_at >= $1 AND updated_at <= $2",
        )
        .bind(since)
        .bind(settled_before)
        .fetch_all(&self.db)
        .await?;
        for order_id in delivered.into_iter().filter(|id| !charged.contains(id)) {
            finding(
                order_id,
                FindingKind::DeliveredWithoutCharge,
                0,
                "delivered, and the provider has no charge for it".to_owned(),
            );
        }
        Ok(findings)
    }

    #[activity(definition = RecordReconciliation)]
    pub async fn record_reconciliation(
        self: Arc<Self>,
        _ctx: ActivityContext,
        findings: Vec<Finding>,
    ) -> Result<i64, ActivityError> {
        let mut tx = self.db.begin().await?;
        let run_id: i64 = sqlx::query_scalar(
            "INSERT INTO operations.reconciliation_runs (findings, repaired) VALUES ($1, $2) \
             RETURNING run_id",
        )
        .bind(findings.len() as i32)
        .bind(findings.iter().filter(|f| f.repaired).count() as i32)
        .fetch_one(&mut *tx)
        .await?;
        for f in &findings {
            sqlx::query(
                "INSERT INTO operations.reconciliation_findings \
                   (run_id, order_id, kind, amount_minor, detail, repaired) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(run_id)
            .bind(f.order_id.uuid())
            .bind(f.kind.as_str())
            .bind(f.amount_minor)
            .bind(&f.detail)
            .bind(f.repaired)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(run_id)
    }
}
