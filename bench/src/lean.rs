//! The engine's ceiling: a lean order workflow with Courier's steps as no-ops.
//!
//! It has the saga's shape (stock, charge, shop board, the shop's decision, dispatch and the
//! rider's fee, pickup, delivery, compensation on cancel or rejection) and one bookkeeping step per
//! status change, as Courier has, but every step does nothing. Run on the same Temporal server as
//! Courier, on a task queue of its own, it measures what the engine allows for this shape: every
//! Courier figure in the report is also given as a ratio to it. In [`StepKind::Activity`] mode each
//! step is an ordinary activity; in [`StepKind::Local`] mode each is a local activity.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_common::RetryPolicy;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::workflows::select;
use temporalio_sdk::{
    ActivityOptions, LocalActivityOptions, TimerOptions, WorkflowContext, WorkflowContextView,
    WorkflowResult,
};

/// How the lean saga runs its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Activity,
    Local,
}

impl StepKind {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Activity => "lean saga, activities",
            Self::Local => "lean saga, local activities",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeanOrder {
    pub order_id: String,
    pub steps: StepKind,
    /// The charge "declines": the order ends before the shop sees it.
    pub declined: bool,
}

/// What `await_payment` answers, as Courier's does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeanPayment {
    Paid,
    Declined,
}

/// The no-op steps. Each answers at once: the time it takes is the engine's alone.
pub struct LeanSteps;

#[activities]
impl LeanSteps {
    #[activity(name = "lean_step")]
    pub async fn step(
        self: Arc<Self>,
        _ctx: ActivityContext,
        _step: String,
    ) -> Result<(), ActivityError> {
        Ok(())
    }
}

#[workflow]
pub struct LeanOrderWorkflow {
    order: LeanOrder,
    paid: Option<LeanPayment>,
    accepted: bool,
    rider: bool,
    ready: bool,
    picked_up: bool,
    delivered: bool,
    stop: bool,
    ended: bool,
}

#[workflow_methods]
impl LeanOrderWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, order: LeanOrder) -> Self {
        Self {
            order,
            paid: None,
            accepted: false,
            rider: false,
            ready: false,
            picked_up: false,
            delivered: false,
            stop: false,
            ended: false,
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        let declined = ctx.state(|s| s.order.declined);
        step(ctx, "record PAYMENT_PENDING").await?;
        step(ctx, "reserve_stock").await?;
        step(ctx, "charge_payment").await?;
        if declined {
            step(ctx, "release_stock").await?;
            step(ctx, "record PAYMENT_DECLINED").await?;
            ctx.state_mut(|s| s.paid = Some(LeanPayment::Declined));
            return finish(ctx).await;
        }
        step(ctx, "record PAID").await?;
        ctx.state_mut(|s| s.paid = Some(LeanPayment::Paid));
        step(ctx, "post_to_shop_board").await?;
        let decided = select! {
            r = ctx.wait_condition(|s| s.accepted || s.stop) => { r?; true }
            _ = ctx.timer(TimerOptions::builder(Duration::from_secs(3600)).build()) => false,
        };
        if ctx.state(|s| s.stop) || !decided {
            return compensate(ctx).await;
        }
        step(ctx, "assign_rider").await?;
        step(ctx, "pay_rider").await?;
        step(ctx, "record RIDER_ASSIGNED").await?;
        ctx.state_mut(|s| s.rider = true);
        ctx.wait_condition(|s| s.delivered || s.stop).await?;
        if ctx.state(|s| s.stop) {
            return compensate(ctx).await;
        }
        step(ctx, "release_rider").await?;
        finish(ctx).await
    }

    #[update]
    pub async fn await_payment(
        ctx: &mut WorkflowContext<Self>,
        _input: (),
    ) -> Result<LeanPayment, Box<dyn std::error::Error + Send + Sync>> {
        ctx.wait_condition(|s| s.paid.is_some()).await?;
        Ok(ctx.state(|s| s.paid.clone().expect("waited for it")))
    }

    #[update]
    pub async fn accept(
        ctx: &mut WorkflowContext<Self>,
        _input: (),
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        ctx.state_mut(|s| s.accepted = true);
        step(ctx, "record ACCEPTED").await?;
        Ok(())
    }

    #[update]
    pub async fn ready(
        ctx: &mut WorkflowContext<Self>,
        _input: (),
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        ctx.state_mut(|s| s.ready = true);
        step(ctx, "record READY").await?;
        Ok(())
    }

    /// Courier's rider waits for the assignment before picking up; so does this one.
    #[update]
    pub async fn pickup(
        ctx: &mut WorkflowContext<Self>,
        _input: (),
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        ctx.wait_condition(|s| s.rider).await?;
        ctx.state_mut(|s| s.picked_up = true);
        step(ctx, "record PICKED_UP").await?;
        Ok(())
    }

    #[update]
    pub async fn deliver(
        ctx: &mut WorkflowContext<Self>,
        _input: (),
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        step(ctx, "record DELIVERED").await?;
        ctx.state_mut(|s| s.delivered = true);
        Ok(())
    }

    /// A customer's cancellation or the shop's rejection: answers once compensated.
    #[update]
    pub async fn stop(
        ctx: &mut WorkflowContext<Self>,
        _input: (),
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        ctx.state_mut(|s| s.stop = true);
        ctx.wait_condition(|s| s.ended).await?;
        Ok(())
    }
}

async fn compensate(ctx: &mut WorkflowContext<LeanOrderWorkflow>) -> WorkflowResult<()> {
    step(ctx, "record CANCELLING").await?;
    if ctx.state(|s| s.rider) {
        step(ctx, "release_rider").await?;
    }
    step(ctx, "withdraw_from_shop_board").await?;
    step(ctx, "refund_payment").await?;
    step(ctx, "release_stock").await?;
    step(ctx, "record CANCELLED").await?;
    finish(ctx).await
}

async fn finish(ctx: &mut WorkflowContext<LeanOrderWorkflow>) -> WorkflowResult<()> {
    ctx.state_mut(|s| s.ended = true);
    let handlers = ctx.clone();
    ctx.wait_condition(move |_| handlers.all_handlers_finished())
        .await?;
    Ok(())
}

async fn step(
    ctx: &WorkflowContext<LeanOrderWorkflow>,
    name: &str,
) -> Result<(), temporalio_sdk::ActivityExecutionError> {
    let retry = RetryPolicy::builder()
        .initial_interval(Duration::from_millis(100))
        .build();
    match ctx.state(|s| s.order.steps) {
        StepKind::Activity => {
            let opts = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
                .retry_policy(retry)
                .build();
            ctx.execute_activity(LeanSteps::step, name.to_owned(), opts)
                .await
        }
        StepKind::Local => {
            let opts = LocalActivityOptions::builder()
                .start_to_close_timeout(Duration::from_secs(10))
                .retry_policy(retry)
                .build();
            ctx.execute_local_activity(LeanSteps::step, name.to_owned(), opts)
                .await
        }
    }
}

/// The lean saga's worker, on a thread of its own (a worker's future is not `Send`); it stops when
/// dropped.
pub struct LeanWorker {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl LeanWorker {
    pub fn start(client: temporalio_client::Client, task_queue: String) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let sdk = temporalio_sdk::Runtime::from_current_tokio(Default::default())?;
                let options = temporalio_sdk::WorkerOptions::new(task_queue)
                    .register_workflow::<LeanOrderWorkflow>()?
                    .register_activities(LeanSteps)
                    .build();
                let mut worker = temporalio_sdk::Worker::new(&sdk, client, options)?;
                let shutdown = worker.shutdown_handle();
                tokio::spawn(async move {
                    let _ = stopped.await;
                    shutdown();
                });
                let result = worker.run().await;
                if let Err(err) = &result {
                    eprintln!("[bench] the lean worker stopped: {err:#}");
                }
                result?;
                anyhow::Ok(())
            })
        });
        Self {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops polling and waits for the worker to finish.
    pub fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => anyhow::bail!("the lean worker's thread panicked"),
            None => Ok(()),
        }
    }
}

impl Drop for LeanWorker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
