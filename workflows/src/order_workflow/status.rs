//! Publishing a status change: the view's sequence number, the search attributes operators filter
//! by, and one local activity that writes the read model and the notification outbox in one
//! transaction. An update that changes the status answers only once this is done, so a client that
//! reads the order right after its answer sees the change.

use temporalio_sdk::{ActivityExecutionError, WorkflowContext};

use super::{CUSTOMER_ID, ORDER_STATUS, OrderWorkflow, SHOP_ID, options, workflow_now};
use crate::contracts::{
    NotificationPolicy, NotificationRequest, RecordOutcome, RecordStatus, StatusChange,
};
use crate::order::{Cause, OrderStatus, TimelineEntry};

/// Records the status change (with why the order ends or is undone, when it is); answers whether
/// it was recorded or (the first change only) the API had already given the placement up.
pub(super) async fn record(
    ctx: &WorkflowContext<OrderWorkflow>,
    status: OrderStatus,
    why: Option<(Cause, String)>,
) -> Result<RecordOutcome, ActivityExecutionError> {
    let now = workflow_now(ctx);
    let (change, opts) = ctx.state_mut(|s| {
        s.seq += 1;
        s.status = status;
        s.updated_at = now;
        if let Some((cause, reason)) = why {
            s.cause = Some(cause);
            s.reason = Some(reason);
        }
        s.timeline.push(TimelineEntry {
            seq: s.seq,
            status,
            at: now,
        });
        let r = &s.request;
        let notification = NotificationRequest {
            order_id: r.order_id,
            status,
            shop_name: r.shop_name.clone(),
            phone: r.phone.as_str().to_owned(),
            email: r.email.as_str().to_owned(),
            reason: s.reason.clone(),
            language: r.language.map(|l| l.code().to_owned()),
            shop_id: Some(r.shop_id.to_string()),
            total_minor: Some(r.total.minor),
        };
        let delivery = NotificationPolicy {
            attempt_timeout_secs: r.policy.activity_timeout_secs,
            initial_retry_interval_ms: r.policy.initial_retry_interval_ms,
            max_retry_interval_secs: r.policy.notification_max_retry_interval_secs,
            give_up_after_secs: r.policy.notification_give_up_after_secs,
        };
        let change = StatusChange {
            view: s.view(),
            notification,
            delivery,
        };
        (change, options::bookkeeping(r))
    });
    let seq = change.view.seq;
    // Who the order belongs to never changes: those attributes are set with the first status.
    if seq == 1 {
        ctx.upsert_search_attributes([
            ORDER_STATUS.value_set(status.as_str().to_owned()),
            CUSTOMER_ID.value_set(change.view.customer_id.to_string()),
            SHOP_ID.value_set(change.view.shop_id.to_string()),
        ]);
    } else {
        ctx.upsert_search_attributes([ORDER_STATUS.value_set(status.as_str().to_owned())]);
    }
    let outcome = ctx
        .execute_local_activity(RecordStatus, change, opts)
        .await?;
    ctx.state_mut(|s| s.projected_seq = s.projected_seq.max(seq));
    Ok(outcome)
}
