//! Publishing an order's status change: the read model and the notification outbox, in one
//! transaction, so a status is never visible without its messages on their way, nor the reverse.

use std::sync::Arc;

use courier_workflows::contracts::{RecordOutcome, RecordStatus, StatusChange};
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::notifications::{self, NotificationChannels};
use courier_runtime::read_model;

pub struct StatusActivities {
    pub db: PgPool,
    pub channels: NotificationChannels,
}

#[activities]
impl StatusActivities {
    /// Projects the view (if newer than the read model's) and logs the messages it owes; a retry
    /// changes nothing that was already written. The order's first status change claims its
    /// placement: if the API gave it up, nothing is written and the answer says so.
    #[activity(definition = RecordStatus)]
    pub async fn record_status(
        self: Arc<Self>,
        ctx: ActivityContext,
        change: StatusChange,
    ) -> Result<RecordOutcome, ActivityError> {
        let mut tx = self.db.begin().await?;
        let run_id = ctx.info().workflow_run_id.clone().unwrap_or_default();
        if change.view.seq == 1
            && !read_model::claim_placement_in(&mut tx, change.view.order_id, &run_id).await?
        {
            return Ok(RecordOutcome::Abandoned);
        }
        read_model::project_in(&mut tx, &change.view).await?;
        notifications::record_in(
            &mut tx,
            &self.channels,
            &change.notification,
            Some(&change.delivery),
        )
        .await?;
        tx.commit().await?;
        Ok(RecordOutcome::Recorded)
    }
}
