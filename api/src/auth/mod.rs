//! Authentication: who is calling. The [`Caller`] extractor takes the bearer
//! token from the `Authorization` header, verifies it against the provider's
//! keys and hands the handler the caller's identity; a handler that takes a
//! `Caller` is protected, one that does not is public.

pub mod clerk;
pub mod jwks;
pub mod keys;
pub mod token;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

pub use self::keys::{KeyStore, KeyStoreSettings};
pub use self::token::{Identity, Verifier};
use crate::error::ApiError;

/// Realm named in `WWW-Authenticate` challenges.
const REALM: &str = "quotes";

/// Why a request is not authenticated. The messages go to the client (in
/// `detail` and `error_description`), so they never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("This endpoint needs a bearer token in the Authorization header.")]
    Missing,
    #[error("The token is larger than 8 KiB.")]
    TooLarge,
    #[error("The token is not a well-formed JWT.")]
    Malformed,
    #[error("The token's signing algorithm is not accepted.")]
    Algorithm,
    #[error("The token does not name its signing key (kid).")]
    NoKeyId,
    #[error("The token was signed with a key the identity provider does not publish.")]
    UnknownKey,
    #[error("The token's signature is not valid.")]
    Signature,
    #[error("The token has expired.")]
    Expired,
    #[error("The token is not valid yet.")]
    NotYetValid,
    #[error("The token was issued in the future.")]
    IssuedInFuture,
    #[error("The token was not issued by the trusted issuer.")]
    Issuer,
    #[error("The token is not meant for this API (aud).")]
    Audience,
    #[error("The token was issued to a party this API does not accept (azp).")]
    AuthorizedParty,
    #[error("The token's subject (sub) is missing or invalid.")]
    Subject,
    #[error("The token is not a session token.")]
    TokenType,
    #[error("The session is not active yet (pending).")]
    SessionPending,
    #[error("The token's claims are invalid: {0}.")]
    Claims(&'static str),
    #[error("The identity provider's signing keys are not available yet; try again shortly.")]
    KeysUnavailable,
}

impl AuthError {
    /// A short machine-readable reason, for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm",
            Self::NoKeyId => "no_kid",
            Self::UnknownKey => "unknown_kid",
            Self::Signature => "signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::Issuer => "issuer",
            Self::Audience => "audience",
            Self::AuthorizedParty => "authorized_party",
            Self::Subject => "subject",
            Self::TokenType => "token_type",
            Self::SessionPending => "session_pending",
            Self::Claims(_) => "claims",
            Self::KeysUnavailable => "keys_unavailable",
        }
    }

    /// Not the caller's fault: the keys could not be had.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::KeysUnavailable)
    }

    /// The problem type URI for this rejection.
    pub fn problem_type(&self) -> &'static str {
        match self {
            Self::Missing => "urn:quotes:problem:missing-token",
            // Of its own, so that a client knows a fresh token will do.
            Self::Expired => "urn:quotes:problem:expired-token",
            Self::KeysUnavailable => "urn:quotes:problem:unavailable",
            _ => "urn:quotes:problem:invalid-token",
        }
    }

    /// The RFC 6750 `WWW-Authenticate` challenge.
    pub fn challenge(&self) -> String {
        match self {
            Self::Missing => format!("Bearer realm=\"{REALM}\""),
            other => format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{other}\""
            ),
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    identity: Identity,
}

impl Caller {
    /// The caller's stable id: the token's `sub`.
    pub fn user_id(&self) -> &str {
        &self.identity.subject
    }
}

/// The caller id of an authenticated request, kept in the request's
/// extensions for the access log.
#[derive(Debug, Clone)]
pub struct CallerId(pub String);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let token = bearer_token(req).map(str::to_owned);
        let verifier = req.app_data::<web::Data<Verifier>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let verifier = verifier.expect("the Verifier is registered as app data");
            let result = match token {
                Ok(token) => verifier.verify(&token).await,
                Err(missing) => Err(missing),
            };
            match result {
                Ok(identity) => {
                    req.extensions_mut()
                        .insert(CallerId(identity.subject.clone()));
                    Ok(Self { identity })
                }
                Err(error) => {
                    tracing::info!(reason = error.reason(), "token rejected");
                    crate::metrics::record_token_rejection(error.reason());
                    Err(error.into())
                }
            }
        })
    }
}

/// The token of an `Authorization: Bearer <token>` header. The scheme is
/// case-insensitive (RFC 9110 §11.1); a missing header, another scheme or
/// an empty token all count as no token.
fn bearer_token(req: &HttpRequest) -> Result<&str, AuthError> {
    let value = req
        .headers()
        .get(AUTHORIZATION)
        .ok_or(AuthError::Missing)?
        .to_str()
        .map_err(|_| AuthError::Malformed)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token)
}
