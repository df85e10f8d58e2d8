//! Sending the notifications of one status change: a workflow of its own (id
//! `notify-{order_id}-{seq}`), started by the order workflow and abandoned to run on, so a
//! notification that cannot be sent (Twilio down, SMTP down) never holds the order up, and is still
//! delivered after the order itself has ended.

use std::time::Duration;

use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::workflows::join_all;
use temporalio_sdk::{ActivityCloseTimeouts, ActivityOptions, WorkflowContext, WorkflowResult};

use crate::contracts::{
    DeliveryOutcome, NOTIFICATION_REJECTED, NotificationBatch, NotificationKey, NotificationPolicy,
    PendingNotifications, SendEmail, SendSms,
};

#[workflow]
#[derive(Default)]
pub struct NotificationWorkflow;

#[workflow_methods]
impl NotificationWorkflow {
    /// Sends every pending SMS and email of the status change at once; each is retried on its own
    /// and answers with what became of it (sent, failed for good, skipped, or given up).
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        batch: NotificationBatch,
    ) -> WorkflowResult<Vec<DeliveryOutcome>> {
        let lookup = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(
            batch.policy.attempt_timeout_secs,
        ))
        .retry_policy(retry_policy(&batch.policy))
        .build();
        let keys = ctx
            .execute_activity(PendingNotifications, batch.clone(), lookup)
            .await?;
        let sends = keys.into_iter().map(|key| {
            let opts = send_options(&batch.policy);
            let ctx = ctx.clone();
            async move {
                let sent = if key.channel == "sms" {
                    ctx.execute_activity(SendSms, key.clone(), opts).await
                } else {
                    ctx.execute_activity(SendEmail, key.clone(), opts).await
                };
                sent.unwrap_or_else(|err| {
                    DeliveryOutcome {
                        state: "failed".to_owned(),
                        provider_id: None,
                    }
                    .with_log(&key, &err.to_string())
                })
            }
        });
        Ok(join_all(sends).await)
    }
}

impl DeliveryOutcome {
    fn with_log(self, key: &NotificationKey, error: &str) -> Self {
        tracing::warn!(order_id = %key.order_id, status = %key.status, channel = %key.channel, error, "notification not sent");
        self
    }
}

fn retry_policy(policy: &NotificationPolicy) -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_millis(policy.initial_retry_interval_ms))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(policy.max_retry_interval_secs))
        .non_retryable_error_types([NOTIFICATION_REJECTED.to_owned()])
        .build()
}

/// Transient failures (5xx, timeouts, SMTP down) are retried with backoff until the give-up time;
/// a provider's refusal (`NotificationRejected`) is final.
fn send_options(policy: &NotificationPolicy) -> ActivityOptions {
    ActivityOptions::with_close_timeouts(ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: Duration::from_secs(policy.give_up_after_secs),
        start_to_close: Duration::from_secs(policy.attempt_timeout_secs),
    })
    .retry_policy(retry_policy(policy))
    .build()
}
