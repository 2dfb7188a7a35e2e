//! Tests that serve nothing through the test database's pool: the
//! `quotes-api` binary as a process (its start, its stop, a rolling restart
//! of replicas, `dev-token`), its settings, the OpenAPI description, and
//! Postgres connected to directly (the data layer's batches among them).
//! Unlike the tests in `api/`, they are not run a second time through
//! PgBouncer: they would not go through it.

#![expect(
    clippy::unwrap_used,
    reason = "a failed step should stop the test right there"
)]

mod batches;
mod clerk;
mod database;
mod description;
mod dev_token;
mod helpers;
mod replicas;
mod startup;
