//! Authentication's leaf: the identity provider's settings, its signing
//! keys (discovery, cache, refresh), the rules a bearer token must pass, and
//! why a token is refused. Nothing here knows about HTTP requests; the
//! `Caller` extractor in `http::caller` puts it in front of the handlers.

pub mod clerk;
mod error;
mod grant;
pub mod jwks;
pub mod keys;
pub mod opaque;
pub mod principal;
mod settings;
pub mod token;

pub use self::error::AuthError;
pub use self::keys::{KeyStore, KeyStoreSettings};
pub use self::principal::is_valid_subject;
pub use self::principal::{Organization, Principal, Scope, Scopes, TokenKind, TokenKinds};
pub use self::settings::{
    AuthSettings, ClerkBackend, Introspection, MAX_LEEWAY_SECS, OpaqueSettings,
};
pub use self::token::{Clock, SystemClock, Verifier};
