//! The quotes API's HTTP server: each signed-in user keeps one favourite
//! quote, behind bearer tokens from a hosted identity provider.
//!
//! What the API is (the quote's rules, token verification, webhooks, the
//! database and its queries, each caller's share, metrics) is
//! `quotes-core`, which knows nothing of HTTP servers. This crate puts it
//! behind actix-web, in layers whose imports point down:
//!
//! - **the HTTP edge** ([`http`]): the connections, the problem+json error
//!   mapping, the extractors, middleware and handlers; beside it the web
//!   app's files ([`web_app`]);
//! - **composition** at the top: flags and environment parsed into each
//!   part's settings ([`config`]), the route table ([`routes`]), the
//!   description ([`openapi`]), logging ([`logging`]) and start-up ([`app`]).
//!
//! The development identity provider (`quotes-dev-idp`, re-exported as
//! `dev_idp`) is compiled in only with the `dev-idp` feature.
//!
//! Cargo holds the arrows between the crates; `cargo xtask test` checks the
//! layers inside this one and that no import cycle exists.

pub mod app;
pub mod config;
pub mod http;
pub mod logging;
pub mod openapi;
pub mod routes;
pub mod web_app;

#[cfg(feature = "dev-idp")]
pub use quotes_dev_idp as dev_idp;

pub use crate::app::{Application, Seams};
pub use crate::http::MAX_BODY_BYTES;
