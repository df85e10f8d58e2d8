//! Every log line an activity writes carries the order: an activity interceptor runs each
//! activity inside a span with `order_id`, `workflow_id`, the activity type and the attempt, so a
//! line in the logs leads straight to the order in the Temporal UI.

use futures::FutureExt;
use temporalio_sdk::interceptors::{
    ActivityInboundInterceptor, ExecuteActivityInput, ExecuteActivityOutput, Next,
};
use tracing::Instrument;

pub struct OrderSpans;

/// The order id inside a workflow id: `order-{id}` (the saga) or `notify-{id}-{seq}` (its
/// notifications).
pub fn order_id_of(workflow_id: &str) -> &str {
    let rest = workflow_id
        .strip_prefix("order-")
        .or_else(|| workflow_id.strip_prefix("notify-"))
        .unwrap_or("");
    rest.get(..36).unwrap_or(rest)
}

impl ActivityInboundInterceptor for OrderSpans {
    fn execute_activity<'a>(
        &'a self,
        input: ExecuteActivityInput,
        next: Next<'a, ExecuteActivityInput, ExecuteActivityOutput<'a>>,
    ) -> ExecuteActivityOutput<'a> {
        let info = input.activity_info();
        let workflow_id = info.workflow_id.clone().unwrap_or_default();
        let span = tracing::info_span!(
            "activity",
            order_id = %order_id_of(&workflow_id),
            workflow_id = %workflow_id,
            activity = %info.activity_type,
            attempt = info.attempt,
        );
        next.run(input).instrument(span).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::order_id_of;

    #[test]
    fn order_ids_come_out_of_both_kinds_of_workflow_id() {
        let id = "0efb9909-44b0-4ce4-94bb-d24b39917f53";
        assert_eq!(order_id_of(&format!("order-{id}")), id);
        assert_eq!(order_id_of(&format!("notify-{id}-7")), id);
        assert_eq!(order_id_of("something-else"), "");
    }
}
