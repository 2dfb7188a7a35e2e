//! Integration tests: the real server on a random port, a fresh database
//! per test and a real JWKS server on loopback.

#![expect(
    clippy::unwrap_used,
    reason = "a failed step should stop the test right there"
)]

mod clerk;
mod clients;
mod connections;
mod database;
mod dev_idp;
mod hardening;
mod helpers;
mod opaque;
mod openapi;
mod operations;
mod pooler;
mod quotes;
mod rate_limit;
mod resilience;
mod scopes;
mod tokens;
mod web_app;
mod webhooks;
