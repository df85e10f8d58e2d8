//! The `project_order` activity of orders placed before status changes became local activities
//! (kept for those still running): it hands the view to the read model's one writer,
//! [`courier_runtime::read_model`].

use std::sync::Arc;

use courier_runtime::read_model::project;
use courier_workflows::contracts::ProjectOrder;
use courier_workflows::order::OrderView;
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub struct ReadModelActivities {
    pub db: PgPool,
}

#[activities]
impl ReadModelActivities {
    #[activity(definition = ProjectOrder)]
    pub async fn project_order(
        self: Arc<Self>,
        _ctx: ActivityContext,
        view: OrderView,
    ) -> Result<(), ActivityError> {
        project(&self.db, &view).await?;
        Ok(())
    }
}
