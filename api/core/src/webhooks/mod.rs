//! Clerk's webhooks, delivered by Svix: the signature and the events. A
//! leaf: the HTTP handler lives in `http::webhooks`.

mod event;
mod signature;

pub use self::event::Event;
pub use self::signature::{
    MAX_SIGNATURE_HEADER_BYTES, MAX_SIGNATURES, MAX_WEBHOOK_BODY_BYTES, SecretError, SigningSecret,
    SvixHeaders, TIMESTAMP_TOLERANCE_SECS, WebhookError, verify,
};
