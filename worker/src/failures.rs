//! Steps that keep failing, as this worker sees them, written to `operations.failing_steps` so the
//! stuck scan finds them with one query instead of describing every running workflow (which does
//! not scale to thousands of open orders, and cannot see local activities at all).
//!
//! - [`StepFailures`] (an activity interceptor) records an activity attempt that fails from the
//!   [`FAILING_FROM`]th attempt on, local or not, and removes the row when a later attempt succeeds.
//! - [`WorkflowTaskFailures`] (a worker interceptor) records a workflow task that fails: a panic or
//!   an unreadable input (the activation completes as failed) or non-determinism (core evicts the
//!   run), and removes the row when a later task of the same run succeeds. The worker-interceptor
//!   API is marked experimental in the SDK; it is the only place a worker learns of these.
//!
//! Writing never fails a task: an error is logged and the step runs on.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use futures::FutureExt;
use sqlx::PgPool;
use temporalio_common::protos::coresdk::workflow_activation::remove_from_cache::EvictionReason;
use temporalio_common::protos::coresdk::workflow_activation::{
    WorkflowActivation, workflow_activation_job,
};
use temporalio_common::protos::coresdk::workflow_completion::{
    WorkflowActivationCompletion, workflow_activation_completion,
};
use temporalio_sdk::activities::ActivityError;
use temporalio_sdk::interceptors::{
    ActivityInboundInterceptor, ExecuteActivityInput, ExecuteActivityOutput, Next,
    WorkerInterceptor,
};

use crate::spans::order_id_of;

/// An activity counts as failing from this attempt on (as the stuck scan always had it).
pub const FAILING_FROM: u32 = 3;
/// What a failing workflow task is called in the table.
pub const WORKFLOW_TASK: &str = "workflow task";

/// The table's writer.
#[derive(Clone)]
pub struct FailureLog {
    db: PgPool,
}

impl FailureLog {
    pub fn new(db: PgPool) -> Self {
        Self { db }
    }

    async fn failed(&self, workflow_id: &str, step: &str, attempts: Option<u32>, error: &str) {
        let order_id = uuid::Uuid::parse_str(order_id_of(workflow_id)).ok();
        let written = sqlx::query(
            "INSERT INTO operations.failing_steps (workflow_id, order_id, step, attempts, last_error) \
             VALUES ($1, $2, $3, COALESCE($4, 1), $5) \
             ON CONFLICT (workflow_id, step) DO UPDATE SET \
               attempts = COALESCE($4, operations.failing_steps.attempts + 1), \
               last_error = EXCLUDED.last_error, last_failed_at = now()",
        )
        .bind(workflow_id)
        .bind(order_id)
        .bind(step)
        .bind(attempts.map(|a| a as i32))
        .bind(error)
        .execute(&self.db)
        .await;
        if let Err(err) = written {
            tracing::warn!(workflow_id, step, error = %err, "could not record a failing step");
        }
    }

    async fn recovered(&self, workflow_id: &str, step: &str) {
        let removed = sqlx::query(
            "DELETE FROM operations.failing_steps WHERE workflow_id = $1 AND step = $2",
        )
        .bind(workflow_id)
        .bind(step)
        .execute(&self.db)
        .await;
        if let Err(err) = removed {
            tracing::warn!(workflow_id, step, error = %err, "could not clear a failing step");
        }
    }
}

/// Records failing activity attempts (see the module's documentation).
pub struct StepFailures(pub FailureLog);

impl ActivityInboundInterceptor for StepFailures {
    fn execute_activity<'a>(
        &'a self,
        input: ExecuteActivityInput,
        next: Next<'a, ExecuteActivityInput, ExecuteActivityOutput<'a>>,
    ) -> ExecuteActivityOutput<'a> {
        let info = input.activity_info();
        let workflow_id = info.workflow_id.clone().unwrap_or_default();
        let step = info.activity_type.clone();
        let attempt = info.attempt;
        async move {
            let result = next.run(input).await;
            match &result {
                Err(ActivityError::Application(failure)) if attempt >= FAILING_FROM => {
                    let error = failure.source_error().to_string();
                    self.0
                        .failed(&workflow_id, &step, Some(attempt), &error)
                        .await;
                }
                // Only an attempt after a failed one can clear a row: first attempts cost nothing.
                Ok(_) if attempt >= FAILING_FROM => self.0.recovered(&workflow_id, &step).await,
                _ => {}
            }
            result
        }
        .boxed()
    }
}

/// Records failing workflow tasks (see the module's documentation).
pub struct WorkflowTaskFailures {
    log: FailureLog,
    /// The workflow of each run this worker holds, learnt when the run is initialised.
    runs: Mutex<HashMap<String, String>>,
    /// Runs with a recorded failure, to clear once one of their tasks succeeds.
    failing: Mutex<HashSet<String>>,
}

impl WorkflowTaskFailures {
    pub fn new(log: FailureLog) -> Self {
        Self {
            log,
            runs: Mutex::new(HashMap::new()),
            failing: Mutex::new(HashSet::new()),
        }
    }

    fn workflow_of(&self, run_id: &str) -> Option<String> {
        self.runs.lock().expect("runs lock").get(run_id).cloned()
    }

    async fn record(&self, run_id: &str, error: &str) {
        let Some(workflow_id) = self.workflow_of(run_id) else {
            return;
        };
        self.failing
            .lock()
            .expect("failing lock")
            .insert(run_id.to_owned());
        self.log
            .failed(&workflow_id, WORKFLOW_TASK, None, error)
            .await;
    }
}

#[async_trait::async_trait(?Send)]
impl WorkerInterceptor for WorkflowTaskFailures {
    async fn on_workflow_activation(
        &self,
        activation: &WorkflowActivation,
    ) -> Result<(), anyhow::Error> {
        let this = self;
        for job in &activation.jobs {
            match &job.variant {
                Some(workflow_activation_job::Variant::InitializeWorkflow(init)) => {
                    this.runs
                        .lock()
                        .expect("runs lock")
                        .insert(activation.run_id.clone(), init.workflow_id.clone());
                }
                Some(workflow_activation_job::Variant::RemoveFromCache(evict)) => {
                    let reason = evict.reason();
                    if matches!(
                        reason,
                        EvictionReason::Nondeterminism | EvictionReason::Fatal
                    ) {
                        this.record(&activation.run_id, &evict.message).await;
                    }
                    this.runs
                        .lock()
                        .expect("runs lock")
                        .remove(&activation.run_id);
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn on_workflow_activation_completion(&self, completion: &WorkflowActivationCompletion) {
        let this = self;
        match &completion.status {
            Some(workflow_activation_completion::Status::Failed(failed)) => {
                let error = failed.failure.as_ref().map_or_else(
                    || "the workflow task failed".to_owned(),
                    |f| f.message.clone(),
                );
                this.record(&completion.run_id, &error).await;
            }
            Some(workflow_activation_completion::Status::Successful(_)) => {
                let was_failing = this
                    .failing
                    .lock()
                    .expect("failing lock")
                    .remove(&completion.run_id);
                if was_failing && let Some(workflow_id) = this.workflow_of(&completion.run_id) {
                    this.log.recovered(&workflow_id, WORKFLOW_TASK).await;
                }
            }
            None => {}
        }
    }
}
