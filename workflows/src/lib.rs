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

pub mod contracts;
pub mod domain;
pub mod order;
pub mod order_workflow;

pub use order_workflow::OrderWorkflow;
