//! Opaque tokens, which only their issuer can read: Clerk's OAuth tokens
//! (`oat_…`) and API keys (`ak_…`) through Clerk's Backend API, and any
//! provider's through RFC 7662 introspection.
//!
//! Each answer costs a round trip to the provider, so answers are kept:
//! a grant until the token expires and never longer than
//! [`MAX_GRANT_CACHE`] (a revoked token stops working within it), a
//! refusal for [`REFUSAL_CACHE`] (a flood of made-up tokens costs one call
//! each per window). Entries are keyed by the token's SHA-256, never the
//! token. At most [`MAX_IN_FLIGHT`] checks run at once, each within
//! [`DEADLINE`]; a provider that is down, slow or answers what cannot be
//! read makes the request `503`, never a refusal, and is not remembered.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::Deserialize;
use serde_json::Value;

use super::error::AuthError;
use super::grant::{GrantClaims, GrantRules};
use super::principal::{Principal, TokenKind};
use super::settings::{ClerkBackend, Introspection, OpaqueSettings};

/// Longest a grant is remembered.
pub const MAX_GRANT_CACHE: Duration = Duration::from_secs(60);

/// How long a refusal is remembered.
pub const REFUSAL_CACHE: Duration = Duration::from_secs(10);

/// Checks with the provider running at once; more wait for a turn.
pub const MAX_IN_FLIGHT: usize = 32;

/// A check's whole time, its wait for a turn included.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// Largest answer read from the provider.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Answers remembered.
const CACHE_ENTRIES: usize = 16 * 1024;

/// Clerk's prefixes of its opaque OAuth tokens and API keys.
const CLERK_OAUTH_PREFIX: &str = "oat_";
const CLERK_API_KEY_PREFIX: &str = "ak_";

/// Checks opaque tokens with the provider and remembers the answers.
#[derive(Debug)]
pub struct OpaqueVerifier {
    http: reqwest::Client,
    clerk: Option<ClerkBackend>,
    introspection: Option<Introspection>,
    issuer: String,
    audiences: Vec<String>,
    rules: GrantRules,
    turns: tokio::sync::Semaphore,
    answers: quick_cache::sync::Cache<[u8; 32], Arc<Answer>>,
}

#[derive(Debug)]
struct Answer {
    verdict: Result<Arc<Principal>, AuthError>,
    /// Seconds since 1970 until which the verdict holds.
    until: u64,
}

/// What the provider said, before our rules.
enum Said {
    Grant {
        kind: TokenKind,
        claims: Box<GrantClaims>,
        /// Seconds since 1970.
        exp: Option<u64>,
    },
    Refused(AuthError),
}

impl OpaqueVerifier {
    /// A verifier for the configured endpoints; `None` when there are none.
    pub(super) fn new(
        settings: &OpaqueSettings,
        issuer: &str,
        audiences: Vec<String>,
        rules: GrantRules,
    ) -> Option<Self> {
        if settings.clerk.is_none() && settings.introspection.is_none() {
            return None;
        }
        let http = reqwest::Client::builder()
            .timeout(DEADLINE)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("quotes-api/", env!("CARGO_PKG_VERSION")))
            .build()
            .ok()?;
        Some(Self {
            http,
            clerk: settings.clerk.clone(),
            introspection: settings.introspection.clone(),
            issuer: issuer.to_owned(),
            audiences,
            rules,
            turns: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
            answers: quick_cache::sync::Cache::new(CACHE_ENTRIES),
        })
    }

    /// Whether `token` is one of Clerk's opaque kinds.
    pub fn is_clerk_opaque(token: &str) -> bool {
        token.starts_with(CLERK_OAUTH_PREFIX) || token.starts_with(CLERK_API_KEY_PREFIX)
    }

    /// The principal an opaque `token` (whose SHA-256 is `digest`) grants,
    /// at `now` (seconds since 1970).
    pub(super) async fn verify(
        &self,
        token: &str,
        digest: [u8; 32],
        now: u64,
    ) -> Result<Arc<Principal>, AuthError> {
        if let Some(answer) = self.answers.get(&digest)
            && answer.until > now
        {
            return answer.verdict.clone();
        }
        let said = tokio::time::timeout(DEADLINE, async {
            let _turn = self
                .turns
                .acquire()
                .await
                .map_err(|_| AuthError::VerifierUnavailable)?;
            self.ask(token).await
        })
        .await
        .unwrap_or_else(|_| {
            tracing::warn!("the identity provider did not answer about a token in time");
            Err(AuthError::VerifierUnavailable)
        })?;
        let (verdict, until) = match said {
            Said::Refused(error) => (Err(error), now + REFUSAL_CACHE.as_secs()),
            Said::Grant { exp: Some(exp), .. } if exp <= now => {
                (Err(AuthError::Inactive), now + REFUSAL_CACHE.as_secs())
            }
            Said::Grant { kind, claims, exp } => {
                let longest = now + MAX_GRANT_CACHE.as_secs();
                match self.rules.principal(kind, &claims) {
                    Ok(principal) => (
                        Ok(Arc::new(principal)),
                        exp.map_or(longest, |exp| exp.min(longest)),
                    ),
                    Err(error) => (Err(error), now + REFUSAL_CACHE.as_secs()),
                }
            }
        };
        self.answers.insert(
            digest,
            Arc::new(Answer {
                verdict: verdict.clone(),
                until,
            }),
        );
        verdict
    }

    async fn ask(&self, token: &str) -> Result<Said, AuthError> {
        if Self::is_clerk_opaque(token) {
            let Some(clerk) = &self.clerk else {
                return Ok(Said::Refused(AuthError::TokenType));
            };
            return self.ask_clerk(clerk, token).await;
        }
        let Some(introspection) = &self.introspection else {
            return Ok(Said::Refused(AuthError::Malformed));
        };
        if !self.rules.accepted.contains(TokenKind::OAuth)
            && !self.rules.accepted.contains(TokenKind::Machine)
        {
            return Ok(Said::Refused(AuthError::TokenType));
        }
        self.introspect(introspection, token).await
    }

    /// Clerk's Backend API answers `200` for a token it knows, with
    /// `revoked` and `expired` saying whether it is still good, and `404`
    /// for one it does not.
    async fn ask_clerk(&self, clerk: &ClerkBackend, token: &str) -> Result<Said, AuthError> {
        let kind = if token.starts_with(CLERK_OAUTH_PREFIX) {
            TokenKind::OAuth
        } else {
            TokenKind::ApiKey
        };
        // A kind refused anyway costs no call.
        if !self.rules.accepted.contains(kind) {
            return Ok(Said::Refused(AuthError::TokenType));
        }
        let (kind, path, body) = if kind == TokenKind::OAuth {
            (
                TokenKind::OAuth,
                "v1/oauth_applications/access_tokens/verify",
                serde_json::json!({ "access_token": token }),
            )
        } else {
            (
                TokenKind::ApiKey,
                "v1/api_keys/verify",
                serde_json::json!({ "secret": token }),
            )
        };
        let url = clerk
            .api_url
            .join(path)
            .map_err(|_| AuthError::VerifierUnavailable)?;
        let request = self
            .http
            .post(url)
            .header(AUTHORIZATION, format!("Bearer {}", clerk.secret_key))
            .json(&body);
        let Some(answer) = self.send(request, "Clerk's Backend API").await? else {
            return Ok(Said::Refused(AuthError::Inactive));
        };
        let parsed: ClerkToken = serde_json::from_slice(&answer).map_err(|error| {
            tracing::error!(%error, "Clerk's Backend API sent an answer about a token that does not parse");
            AuthError::VerifierUnavailable
        })?;
        if parsed.revoked || parsed.expired {
            return Ok(Said::Refused(AuthError::Inactive));
        }
        Ok(Said::Grant {
            kind,
            claims: Box::new(GrantClaims {
                sub: Some(parsed.subject),
                client_id: parsed.client_id,
                scp: parsed.scopes,
                ..GrantClaims::default()
            }),
            exp: parsed.expiration.map(|ms| seconds(ms / 1000.0)),
        })
    }

    /// RFC 7662: `active` says it all; an active token's other members are
    /// read as a JWT's claims would be.
    async fn introspect(&self, endpoint: &Introspection, token: &str) -> Result<Said, AuthError> {
        let request = self
            .http
            .post(endpoint.url.clone())
            .basic_auth(&endpoint.client_id, Some(&endpoint.client_secret))
            .form(&[("token", token), ("token_type_hint", "access_token")]);
        let Some(answer) = self.send(request, "the introspection endpoint").await? else {
            return Ok(Said::Refused(AuthError::Inactive));
        };
        let mut parsed: Introspected = serde_json::from_slice(&answer).map_err(|error| {
            tracing::error!(%error, "the introspection endpoint sent an answer that does not parse");
            AuthError::VerifierUnavailable
        })?;
        if !parsed.active {
            return Ok(Said::Refused(AuthError::Inactive));
        }
        if parsed.iss.as_ref().is_some_and(|iss| *iss != self.issuer) {
            return Ok(Said::Refused(AuthError::Issuer));
        }
        if !parsed.aud.is_none()
            && !self.audiences.is_empty()
            && !parsed.aud.contains_any(&self.audiences)
        {
            return Ok(Said::Refused(AuthError::Audience));
        }
        // A client acting for itself may have no subject but its own id.
        if parsed.claims.sub.is_none() {
            parsed.claims.sub.clone_from(&parsed.claims.client_id);
        }
        Ok(Said::Grant {
            kind: TokenKind::OAuth,
            claims: Box::new(parsed.claims),
            exp: parsed.exp.map(seconds),
        })
    }

    /// The body of a `200`; `None` for an answer that says the token is
    /// unknown (`404`, or `400`/`422` for one it cannot read). Anything
    /// else is the provider's trouble or ours (a wrong secret), never the
    /// caller's: logged, and `503`.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Option<Vec<u8>>, AuthError> {
        let mut response = request
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| {
                tracing::warn!(error = %error.without_url(), "{what} is out of reach");
                AuthError::VerifierUnavailable
            })?;
        let status = response.status();
        if matches!(status.as_u16(), 400 | 404 | 422) {
            return Ok(None);
        }
        if !status.is_success() {
            if matches!(status.as_u16(), 401 | 403) {
                tracing::error!(
                    status = status.as_u16(),
                    "{what} refused this API's credentials; check them"
                );
            } else {
                tracing::warn!(status = status.as_u16(), "{what} failed");
            }
            return Err(AuthError::VerifierUnavailable);
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_ANSWER_BYTES => {
                    body.extend_from_slice(&chunk);
                }
                Ok(Some(_)) => {
                    tracing::error!("{what} sent more than {MAX_ANSWER_BYTES} bytes about a token");
                    return Err(AuthError::VerifierUnavailable);
                }
                Ok(None) => return Ok(Some(body)),
                Err(error) => {
                    tracing::warn!(error = %error.without_url(), "{what} broke off its answer");
                    return Err(AuthError::VerifierUnavailable);
                }
            }
        }
    }
}

/// Clerk's answer about an OAuth token or an API key.
#[derive(Deserialize)]
struct ClerkToken {
    subject: Value,
    client_id: Option<Value>,
    scopes: Option<Value>,
    revoked: bool,
    expired: bool,
    /// Milliseconds since 1970; `null` for a key that never expires.
    expiration: Option<f64>,
}

/// An RFC 7662 answer.
#[derive(Deserialize)]
struct Introspected {
    active: bool,
    exp: Option<f64>,
    iss: Option<String>,
    #[serde(default)]
    aud: super::grant::Audience,
    #[serde(flatten)]
    claims: GrantClaims,
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a time in seconds; a negative one saturates to 0"
)]
fn seconds(value: f64) -> u64 {
    value as u64
}
