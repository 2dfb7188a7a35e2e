//! Which tokens are accepted: the identity provider's settings, owned here
//! and filled in by the configuration (or by a test, or a benchmark).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::jwks::VerifyingKey;
use super::principal::{Scope, TokenKind, TokenKinds};

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
    /// The API's canonical URL (RFC 9728's `resource`). An access token
    /// that carries an audience must name it (or one of `audiences`).
    pub resource: Option<String>,
    /// The token kinds accepted; `None`: [`AuthSettings::accepted`]'s default.
    pub accepted_tokens: Option<TokenKinds>,
    /// When not empty, the client an OAuth or machine token was issued to
    /// must be one of these.
    pub client_ids: Vec<String>,
    /// A provider's names for our scopes (Entra's `api://…/Quotes.Read`).
    pub scope_map: Vec<(String, Scope)>,
    /// A token that names no scope of ours gets every scope, as before
    /// scopes existed: for a migration only.
    pub unscoped_tokens_grant_all: bool,
    /// Where opaque tokens are checked.
    pub opaque: OpaqueSettings,
}

/// Where opaque tokens (not JWTs) are checked with the provider.
#[derive(Clone, Default)]
pub struct OpaqueSettings {
    /// Clerk's Backend API, for `oat_…` OAuth tokens and `ak_…` API keys.
    pub clerk: Option<ClerkBackend>,
    /// An RFC 7662 introspection endpoint, for any other opaque token.
    pub introspection: Option<Introspection>,
}

/// Clerk's Backend API and the instance's secret key.
#[derive(Clone)]
pub struct ClerkBackend {
    pub api_url: Url,
    pub secret_key: String,
}

/// An RFC 7662 introspection endpoint and this API's client credentials.
#[derive(Clone)]
pub struct Introspection {
    pub url: Url,
    pub client_id: String,
    pub client_secret: String,
}

impl fmt::Debug for ClerkBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClerkBackend")
            .field("api_url", &self.api_url.as_str())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection")
            .field("url", &self.url.as_str())
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for OpaqueSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secrets stay out of every log line.
        f.debug_struct("OpaqueSettings")
            .field(
                "clerk",
                &self.clerk.as_ref().map(|clerk| clerk.api_url.as_str()),
            )
            .field(
                "introspection",
                &self
                    .introspection
                    .as_ref()
                    .map(|endpoint| (endpoint.url.as_str(), &endpoint.client_id)),
            )
            .finish()
    }
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
            resource: None,
            accepted_tokens: None,
            client_ids: Vec::new(),
            scope_map: Vec::new(),
            unscoped_tokens_grant_all: false,
            opaque: OpaqueSettings::default(),
        }
    }

    /// The token kinds accepted: those configured, or by default what was
    /// accepted before scopes existed, Clerk's session tokens with Clerk
    /// and the provider's JWTs (OAuth and machine) with any other.
    pub fn accepted(&self) -> TokenKinds {
        self.accepted_tokens.unwrap_or_else(|| {
            if self.clerk {
                [TokenKind::Session].into_iter().collect()
            } else {
                [TokenKind::OAuth, TokenKind::Machine].into_iter().collect()
            }
        })
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
            .field("resource", &self.resource)
            .field("accepted_tokens", &self.accepted())
            .field("client_ids", &self.client_ids)
            .field("scope_map", &self.scope_map)
            .field("unscoped_tokens_grant_all", &self.unscoped_tokens_grant_all)
            .field("opaque", &self.opaque)
            .finish()
    }
}
