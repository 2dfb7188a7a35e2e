//! The HTTP edge: the one problem+json error mapping, the extractors
//! (the caller, JSON bodies), the middleware every response passes
//! (request id and span, access log, deadline, rate limit, security
//! headers), and the
//! handlers. Handlers are thin: they parse with typed extractors, call the
//! leaves below (quotes, auth, webhooks, the data layer) and shape the
//! response. Nothing below imports from here.

pub mod caller;
pub mod connection;
pub mod cors;
pub mod docs;
pub mod error;
pub mod json;
pub mod metrics;
pub mod ops;
pub mod proxies;
pub mod quotes;
pub mod rate_limit;
pub mod request_id;
pub mod resource;
pub mod security;
pub mod telemetry;
pub mod webhooks;

/// Largest request body accepted, in bytes (the webhook has its own).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
