//! What the tests of the API and of its client share: the test database,
//! a test identity provider, a proxy that cuts the database away, a real
//! transaction-mode pooler, and the
//! test configuration built from the production defaults.
//!
//! Like the tests it serves, it panics when the test environment is broken
//! (no Postgres, a port that cannot be bound): there is nothing to recover.
#![expect(
    clippy::missing_panics_doc,
    clippy::unwrap_used,
    reason = "test fixtures fail the test they serve, as tests do"
)]

mod config;
mod database;
mod idp;
mod pooler;
mod process;
mod proxy;
mod verifier;

pub use crate::config::{
    TempPath, auth_from_flags, clerk_publishable_key, committed_openapi, test_config,
    test_key_settings,
};
pub use crate::database::{
    TestDatabase, admin_address, admin_execute, admin_port, admin_query_one, admin_url, unique,
};
pub use crate::idp::{JwksMode, TestIdp, TestKey, now};
pub use crate::pooler::{PgBouncer, THROUGH_PGBOUNCER, through_pgbouncer};
pub use crate::process::{KillOnDrop, Service, free_port, wait_until_ready};
pub use crate::proxy::{DatabaseUrlFor, FlakyProxy};
pub use crate::verifier::{Behaviour, INTROSPECTION_CLIENT, SECRET_KEY, VerifierStandIn};
