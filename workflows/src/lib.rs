//! Courier's order saga and its domain, as a Temporal workflow.
//!
//! This crate must stay deterministic: no I/O, no clocks, no randomness, no threads. Time comes
//! from `ctx.workflow_time()`, effects from activities scheduled through [`contracts`], which
//! `courier-activities` implements.
//!
//! # Layout
//! - [`codes`]: every error code a client can receive, in one enum.
//! - [`domain`]: values that can only be built valid (`OrderId`, `Money`, `PhoneNumber`, ...).
//! - [`order`]: the order's request, statuses, view and the actions shops and riders send.
//! - [`contracts`]: the activities' names, inputs and outputs.
//! - [`order_workflow`]: the saga itself.
//! - [`compensation_workflow`]: undoes a terminated or failed order on an operator's demand.
//! - [`reconciliation_workflow`]: the provider's books against the orders; refunds what is owed.
//! - [`notification_workflow`]: sent the SMS and emails of one status change for orders placed
//!   before the outbox (kept for those still running).

pub mod codes;
pub mod compensation_workflow;
pub mod contracts;
pub mod domain;
pub mod notification_workflow;
pub mod order;
pub mod order_workflow;
pub mod reconciliation_workflow;

pub use compensation_workflow::OrderCompensationWorkflow;
pub use notification_workflow::NotificationWorkflow;
pub use order_workflow::OrderWorkflow;
pub use reconciliation_workflow::ReconciliationWorkflow;
