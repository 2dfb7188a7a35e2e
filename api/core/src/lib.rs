//! What the quotes API is, without the web: the quote's rules
//! ([`quotes`]); tokens, keys and their verification ([`auth`]); Clerk's
//! webhook signature and events ([`webhooks`]); Postgres' settings, TLS,
//! pool and migrations ([`db`]); every query ([`store`], over diesel's
//! [`schema`]); each caller's share of the server ([`rate_limit`]); and the
//! [`metrics`] recorder; and the [`digest`]s a content policy names.
//!
//! It knows nothing of HTTP servers: `quotes-api` puts these parts behind
//! actix-web, and the development identity provider (`quotes-dev-idp`)
//! uses what it needs of [`auth`]. Cargo keeps the arrows pointing here.

pub mod auth;
pub mod db;
pub mod digest;
pub mod metrics;
pub mod quotes;
pub mod rate_limit;
pub mod schema;
pub mod store;
pub mod webhooks;
