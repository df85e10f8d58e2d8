//! One place that decides whether an activity error is worth a retry.

use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::ActivityError;

/// A failure no retry can fix (a declined card): the workflow sees its type and decides.
pub fn non_retryable(type_name: &str, message: impl Into<String>) -> ActivityError {
    ActivityError::application(
        ApplicationFailure::builder(message.into())
            .type_name(type_name.to_owned())
            .non_retryable(true)
            .build(),
    )
}

/// A failure that may pass (a provider down, nothing free yet): Temporal retries with backoff,
/// and the type tells operators what the attempts are waiting for.
pub fn retryable(type_name: &str, message: impl Into<String>) -> ActivityError {
    ActivityError::application(
        ApplicationFailure::builder(message.into())
            .type_name(type_name.to_owned())
            .build(),
    )
}
