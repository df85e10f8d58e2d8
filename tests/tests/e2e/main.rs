//! End-to-end tests of Courier: real Temporal, real Postgres, real HTTP, one Courier per test.

mod catalog;
mod happy_path;
mod payment;
mod rejection;
mod transitions;
mod validation;
