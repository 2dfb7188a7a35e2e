//! The quotes API: each signed-in user keeps one favourite quote, behind
//! bearer tokens from a hosted identity provider.
//!
//! The modules form layers, and every import points down:
//!
//! - **leaves**, which know nothing of HTTP or of each other's callers: the
//!   quote's rules ([`quotes`]), authentication's settings, keys and
//!   verifier ([`auth`]), Clerk's webhook signature and events
//!   ([`webhooks`]), Postgres' settings, TLS, pool and migrations ([`db`]),
//!   the data layer ([`store`], [`schema`]), each caller's share of the
//!   server ([`rate_limit`]) and the [`metrics`] recorder;
//! - **the HTTP edge** ([`http`]): the problem+json error mapping, the
//!   extractors, middleware and handlers; beside it the development
//!   identity provider ([`dev_idp`]) and the web app's files ([`web_app`]);
//! - **composition** at the top: flags and environment parsed into each
//!   part's settings ([`config`]), the route table ([`routes`]), the
//!   description ([`openapi`]), logging ([`logging`]) and start-up ([`app`]).
//!
//! `cargo xtask test` checks the layers and that no import cycle exists.

pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod dev_idp;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod openapi;
pub mod quotes;
pub mod rate_limit;
pub mod routes;
pub mod schema;
pub mod store;
pub mod web_app;
pub mod webhooks;

pub use crate::app::{Application, Seams};
pub use crate::http::MAX_BODY_BYTES;
