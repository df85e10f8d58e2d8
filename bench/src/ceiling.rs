//! Drives the lean saga straight through Temporal, as the API drives Courier's: update-with-start
//! to place and wait for the payment, then an update per shop and rider action.

use std::time::Duration;

use temporalio_client::{
    Client, WorkflowExecuteUpdateOptions, WorkflowIdConflictPolicy, WorkflowUpdateWithStartOptions,
};

use crate::lean::{LeanOrder, LeanOrderWorkflow, LeanPayment, StepKind};
use crate::mix::Lifecycle;
use crate::stats::{Recorder, timed};

#[derive(Clone)]
pub struct Ceiling {
    pub client: Client,
    pub task_queue: String,
    pub steps: StepKind,
    pub run: String,
}

impl Ceiling {
    pub fn workflow_id(&self, i: usize) -> String {
        format!("lean-{}-{:?}-{i}", self.run, self.steps).to_lowercase()
    }

    /// Places order `i` and waits for its payment; answers its workflow id once paid.
    pub async fn place(&self, i: usize, declined: bool, rec: &Recorder) -> Option<String> {
        let id = self.workflow_id(i);
        let order = LeanOrder {
            order_id: id.clone(),
            steps: self.steps,
            declined,
        };
        let options = WorkflowUpdateWithStartOptions::new(
            self.task_queue.clone(),
            id.clone(),
            WorkflowIdConflictPolicy::UseExisting,
        )
        .build();
        let call = self.client.execute_update_with_start_workflow(
            LeanOrderWorkflow::run,
            order,
            LeanOrderWorkflow::await_payment,
            (),
            options,
        );
        let (answer, took) = timed(tokio::time::timeout(Duration::from_secs(10), call)).await;
        match answer {
            Ok(Ok(LeanPayment::Paid)) if !declined => {
                rec.ok("place", took);
                Some(id)
            }
            Ok(Ok(LeanPayment::Declined)) if declined => {
                rec.ok("place", took);
                None
            }
            Ok(Ok(other)) => {
                rec.error("place", took, format!("{other:?}"));
                None
            }
            Ok(Err(err)) => {
                rec.error("place", took, err.to_string());
                None
            }
            Err(_) => {
                rec.pending("place", took);
                None
            }
        }
    }

    pub async fn lifecycle(&self, i: usize, kind: Lifecycle, rec: &Recorder) -> bool {
        if kind == Lifecycle::Declined {
            self.place(i, true, rec).await;
            return true;
        }
        let Some(id) = self.place(i, false, rec).await else {
            return false;
        };
        let steps: &[&str] = match kind {
            Lifecycle::Delivered => &["accept", "ready", "pickup", "deliver"],
            Lifecycle::CancelPaid => &["cancel"],
            Lifecycle::CancelAccepted => &["accept", "cancel"],
            Lifecycle::CancelReady => &["accept", "ready", "cancel"],
            Lifecycle::Rejected => &["reject"],
            Lifecycle::Declined => &[],
        };
        for step in steps {
            if !self.act(&id, step, rec).await {
                return false;
            }
        }
        true
    }

    pub async fn act(&self, id: &str, step: &str, rec: &Recorder) -> bool {
        let handle = self.client.get_workflow_handle::<LeanOrderWorkflow>(id);
        let options = WorkflowExecuteUpdateOptions::default();
        let call = async {
            match step {
                "accept" => {
                    handle
                        .execute_update(LeanOrderWorkflow::accept, (), options)
                        .await
                }
                "ready" => {
                    handle
                        .execute_update(LeanOrderWorkflow::ready, (), options)
                        .await
                }
                "pickup" => {
                    handle
                        .execute_update(LeanOrderWorkflow::pickup, (), options)
                        .await
                }
                "deliver" => {
                    handle
                        .execute_update(LeanOrderWorkflow::deliver, (), options)
                        .await
                }
                _ => {
                    handle
                        .execute_update(LeanOrderWorkflow::stop, (), options)
                        .await
                }
            }
        };
        let (answer, took) = timed(call).await;
        match answer {
            Ok(()) => {
                rec.ok(step, took);
                if ["accept", "ready", "pickup", "deliver"].contains(&step) {
                    rec.ok(crate::stats::ACTIONS, took);
                }
                true
            }
            Err(err) => {
                rec.error(step, took, err.to_string());
                false
            }
        }
    }
}
