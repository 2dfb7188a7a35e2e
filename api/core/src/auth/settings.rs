//! Which tokens are accepted: the identity provider's settings, owned here
//! and filled in by the configuration (or by a test, or a benchmark).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::jwks::VerifyingKey;

/// Most clock skew the leeway may allow. Beyond a few minutes it stops
/// being skew and starts keeping expired tokens alive.
pub const MAX_LEEWAY_SECS: u64 = 300;

/// Which tokens are accepted.
#[derive(Clone)]
pub struct AuthSettings {
    /// The exact `iss` tokens must carry.
    pub issuer: String,
    /// Where the signing keys are; `None`: discovered from the issuer.
    pub jwks_url: Option<Url>,
    /// When not empty, `aud` must contain one of these.
    pub audiences: Vec<String>,
    /// When not empty, `azp` must be one of these.
    pub authorized_parties: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Clerk's own rules apply too (its token categories and session status).
    pub clerk: bool,
    /// A key configured up front (Clerk's PEM key); no JWKS is fetched then.
    pub static_key: Option<Arc<VerifyingKey>>,
}

impl AuthSettings {
    /// The default leeway.
    pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);

    /// Tokens of `issuer`, with its keys discovered, any audience and the
    /// default leeway.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            jwks_url: None,
            audiences: Vec::new(),
            authorized_parties: Vec::new(),
            leeway: Self::DEFAULT_LEEWAY,
            clerk: false,
            static_key: None,
        }
    }
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings")
            .field("issuer", &self.issuer)
            .field("jwks_url", &self.jwks_url.as_ref().map(Url::as_str))
            .field("audiences", &self.audiences)
            .field("authorized_parties", &self.authorized_parties)
            .field("leeway", &self.leeway)
            .field("clerk", &self.clerk)
            .field("static_key", &self.static_key.is_some())
            .finish()
    }
}
