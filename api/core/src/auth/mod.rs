//! Authentication's leaf: the identity provider's settings, its signing
//! keys (discovery, cache, refresh), the rules a bearer token must pass, and
//! why a token is refused. Nothing here knows about HTTP requests; the
//! `Caller` extractor in `http::caller` puts it in front of the handlers.

pub mod clerk;
mod error;
pub mod jwks;
pub mod keys;
mod settings;
pub mod token;

pub use self::error::AuthError;
pub use self::keys::{KeyStore, KeyStoreSettings};
pub use self::settings::{AuthSettings, MAX_LEEWAY_SECS};
pub use self::token::{Clock, Identity, SystemClock, Verifier, is_valid_subject};
