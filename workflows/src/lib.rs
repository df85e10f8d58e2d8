//! Courier's order saga and its domain, as a Temporal workflow.
//!
//! This crate must stay deterministic: no I/O, no clocks, no randomness, no threads. Time comes
//! from `ctx.workflow_time()`, effects from activities scheduled through [`contracts`], which
//! `courier-activities` implements.
//!
//! # Layout
//! - [`domain`]: values that can only be built valid (`OrderId`, `Money`, `PhoneNumber`, ...).
//! - [`order`]: the order's request, statuses, view and the actions shops and riders send.
//! - [`contracts`]: the activities' names, inputs and outputs.
//! - [`order_workflow`]: the saga itself.
//! - [`notification_workflow`]: sends the SMS and emails of one status change, apart from the saga.

pub mod contracts;
pub mod domain;
pub mod notification_workflow;
pub mod order;
pub mod order_workflow;

pub use notification_workflow::NotificationWorkflow;
pub use order_workflow::OrderWorkflow;
