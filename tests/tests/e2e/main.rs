//! End-to-end tests of Courier: real Temporal, real Postgres, real HTTP, one Courier per test.

mod auth;
mod cancellation;
mod cards;
mod catalog;
mod failures;
mod happy_path;
mod limits;
mod live;
mod money;
mod notifications;
mod operations;
mod outbox;
mod payment;
mod rejection;
mod shutdown;
mod stock;
mod transitions;
mod validation;
