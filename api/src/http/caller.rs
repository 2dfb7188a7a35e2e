//! The [`Caller`] extractor: takes the bearer token from the
//! `Authorization` header, verifies it and hands the handler the caller's
//! identity. A handler that takes a `Caller` is protected, one that does
//! not is public: the signature says which.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use super::error::ApiError;
use super::rate_limit::RateLimits;
use quotes_core::auth::{AuthError, Identity, Verifier};

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
        let limits = req.app_data::<web::Data<RateLimits>>().cloned();
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
                    if let Some(limits) = &limits {
                        limits.check_user(&req, &identity.subject)?;
                    }
                    Ok(Self { identity })
                }
                Err(error) => {
                    tracing::info!(reason = error.reason(), "token rejected");
                    quotes_core::metrics::record_token_rejection(error.reason());
                    // Whoever sends refused tokens is anonymous: counted by
                    // address, as on every public path.
                    if let Some(limits) = &limits {
                        limits.check_address(&req)?;
                    }
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
