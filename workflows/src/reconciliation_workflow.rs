//! The reconciliation of the provider's books with Courier's orders, run by a Temporal schedule
//! (`reconcile-{task_queue}`, every `COURIER_RECONCILE_EVERY_SECS`) or on an operator's demand. It
//! finds the disagreements, refunds what is owed through the saga's own idempotent
//! `refund_payment` (keyed by order and charge, so a refund the saga makes at the same time is not
//! made twice), and stores what it found for `/admin/reconciliation` and the metrics.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityOptions, WorkflowContext, WorkflowResult};

use crate::contracts::{
    FindDiscrepancies, Finding, ReconcileScope, RecordReconciliation, RefundPayment, RefundRequest,
};

/// What the reconciliation looks at and how hard it tries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcilePolicy {
    pub scope: ReconcileScope,
    pub activity_timeout_secs: u64,
    /// Attempts of one repair before it is left for the next run.
    pub repair_attempts: u32,
}

impl Default for ReconcilePolicy {
    fn default() -> Self {
        Self {
            scope: ReconcileScope {
                grace_secs: 300,
                lookback_secs: 7 * 24 * 3600,
            },
            activity_timeout_secs: 60,
            repair_attempts: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconciliationReport {
    pub run_id: i64,
    pub findings: Vec<Finding>,
}

#[workflow]
#[derive(Default)]
pub struct ReconciliationWorkflow;

#[workflow_methods]
impl ReconciliationWorkflow {
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        policy: ReconcilePolicy,
    ) -> WorkflowResult<ReconciliationReport> {
        let opts = |attempts: u32| {
            ActivityOptions::with_start_to_close_timeout(Duration::from_secs(
                policy.activity_timeout_secs,
            ))
            .retry_policy(
                RetryPolicy::builder()
                    .initial_interval(Duration::from_secs(1))
                    .maximum_interval(Duration::from_secs(30))
                    .maximum_attempts(attempts)
                    .build(),
            )
            .build()
        };
        let mut findings = ctx
            .execute_activity(FindDiscrepancies, policy.scope.clone(), opts(5))
            .await?;
        for finding in findings.iter_mut().filter(|f| f.kind.owes_refund()) {
            let refund = RefundRequest {
                order_id: finding.order_id,
            };
            let repaired = ctx
                .execute_activity(RefundPayment, refund, opts(policy.repair_attempts))
                .await;
            match repaired {
                Ok(receipt) => finding.repaired = !receipt.refund_ids.is_empty(),
                Err(err) => {
                    tracing::warn!(order_id = %finding.order_id, error = %err, "a refund owed could not be made; the next run tries again");
                }
            }
        }
        let run_id = ctx
            .execute_activity(RecordReconciliation, findings.clone(), opts(10))
            .await?;
        Ok(ReconciliationReport { run_id, findings })
    }
}
