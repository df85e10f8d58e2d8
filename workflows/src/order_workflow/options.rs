//! How the saga runs its steps: timeouts, retries, cancellation. Every step's options come from
//! the order's `SagaPolicy`, fixed when it was placed.
//!
//! Steps that only touch Courier's own database (stock, the shop board, the read model, the
//! notification outbox, freeing a rider) run as local activities: the worker runs them within the
//! workflow task, with no round trip through the Temporal server. Steps that call the payment
//! provider or wait for a free rider are ordinary activities: they may take long, and Temporal
//! tracks each attempt.

use std::time::Duration;

use temporalio_common::RetryPolicy;
use temporalio_sdk::{
    ActivityCancellationType, ActivityOptions, LocalActivityOptions, WorkflowCancellationToken,
};

use crate::order::OrderRequest;

/// A local step retried "forever" still needs a bound (the SDK would impose 100 s): a day.
const LOCAL_PATIENCE: Duration = Duration::from_secs(24 * 3600);

fn retry_policy(
    request: &OrderRequest,
    non_retryable: &[&str],
    max_attempts: Option<u32>,
) -> RetryPolicy {
    let policy = &request.policy;
    let builder = RetryPolicy::builder()
        .initial_interval(Duration::from_millis(policy.initial_retry_interval_ms))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(policy.max_retry_interval_secs))
        .non_retryable_error_types(non_retryable.iter().map(|t| (*t).to_owned()));
    match max_attempts {
        Some(n) => builder.maximum_attempts(n).build(),
        None => builder.build(),
    }
}

fn attempt_timeout(request: &OrderRequest) -> Duration {
    Duration::from_secs(request.policy.activity_timeout_secs)
}

/// A forward step bounded by a workflow timer (a deadline) or a cancellation rather than by
/// Temporal's retry limits: retried with backoff (`max_attempts` times, or until interrupted),
/// except for the failure types named; when `scope` is cancelled the saga waits for the running
/// attempt to finish, so it knows what the attempt did.
pub(super) fn bounded(
    request: &OrderRequest,
    non_retryable: &[&str],
    max_attempts: Option<u32>,
    scope: WorkflowCancellationToken,
) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(attempt_timeout(request))
        .retry_policy(retry_policy(request, non_retryable, max_attempts))
        .cancellation_token(scope)
        .cancellation_type(ActivityCancellationType::WaitCancellationCompleted)
        .build()
}

/// Compensation steps that call out: bounded retries (then an operator decides), never cancelled.
pub(super) fn remote_compensation(request: &OrderRequest) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(attempt_timeout(request))
        .retry_policy(retry_policy(
            request,
            &[],
            Some(request.policy.compensation_attempts),
        ))
        .cancellation_token(WorkflowCancellationToken::new())
        .build()
}

/// Local forward steps: unlimited retries; a cancellation waits for the running attempt.
pub(super) fn local(request: &OrderRequest) -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(attempt_timeout(request))
        .schedule_to_close_timeout(LOCAL_PATIENCE)
        .retry_policy(retry_policy(request, &[], None))
        .cancel_type(ActivityCancellationType::WaitCancellationCompleted)
        .build()
}

/// Status recording: unlimited retries, never cancelled: the world must hear of every change.
pub(super) fn bookkeeping(request: &OrderRequest) -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(attempt_timeout(request))
        .schedule_to_close_timeout(LOCAL_PATIENCE)
        .retry_policy(retry_policy(request, &[], None))
        .cancellation_token(WorkflowCancellationToken::new())
        .build()
}

/// Local compensation steps: bounded retries (then an operator decides), never cancelled.
pub(super) fn local_compensation(request: &OrderRequest) -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(attempt_timeout(request))
        .schedule_to_close_timeout(LOCAL_PATIENCE)
        .retry_policy(retry_policy(
            request,
            &[],
            Some(request.policy.compensation_attempts),
        ))
        .cancellation_token(WorkflowCancellationToken::new())
        .build()
}
