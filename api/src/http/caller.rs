//! The [`Caller`] extractor: takes the bearer token from the
//! `Authorization` header, verifies it, checks that it holds the scopes
//! the route list gives the endpoint and speaks for a user, and hands the
//! handler that user. A handler that takes a `Caller` is protected, one
//! that does not is public: the signature says which.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use super::error::{ApiError, Forbidden, ResourceMetadata};
use super::rate_limit::RateLimits;
use quotes_core::auth::{AuthError, Principal, Scopes, Verifier};

/// The authenticated user of a request, and what their token grants.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Speaks for a user: checked when made.
    principal: Arc<Principal>,
}

impl Caller {
    /// The user's stable id: the token's `sub`.
    pub fn user_id(&self) -> &str {
        &self.principal.subject
    }

    /// What the caller's token grants.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
}

/// The verified principal of a request, kept in the request's extensions
/// for the access log (subject, client and actor).
#[derive(Debug, Clone)]
pub struct CallerId(pub Arc<Principal>);

/// What each signed-in endpoint needs, by method and path as the route
/// list declares them; made once by `routes::required_scopes`.
#[derive(Debug, Clone)]
pub struct RequiredScopes(Arc<[(Method, String, Scopes)]>);

impl RequiredScopes {
    pub fn new(endpoints: Vec<(Method, String, Scopes)>) -> Self {
        Self(endpoints.into())
    }

    /// What `req`'s endpoint needs. An endpoint the list does not name
    /// needs every scope: a handler that takes a `Caller` without being
    /// declared fails closed.
    fn of(&self, req: &HttpRequest) -> Scopes {
        let Some(pattern) = req.match_pattern() else {
            return Scopes::ALL;
        };
        self.0
            .iter()
            .find(|(method, path, _)| method == req.method() && *path == pattern)
            .map_or(Scopes::ALL, |(.., scopes)| *scopes)
    }
}

/// How the API answers a token: the scopes per endpoint, and where a
/// client learns how to get a token (RFC 9728), named in every challenge.
#[derive(Debug, Clone)]
pub struct Access {
    pub required: RequiredScopes,
    /// The configured resource's metadata address; when there is none it
    /// is made from the request's own address.
    pub metadata: Option<ResourceMetadata>,
}

impl Access {
    /// The metadata address to name in an answer to `req`.
    pub fn metadata_for(&self, req: &HttpRequest) -> ResourceMetadata {
        self.metadata.clone().unwrap_or_else(|| {
            ResourceMetadata(
                format!(
                    "{}/.well-known/oauth-protected-resource",
                    super::resource::origin_of(req)
                )
                .into(),
            )
        })
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let token = bearer_token(req).map(str::to_owned);
        let verifier = req.app_data::<web::Data<Verifier>>().cloned();
        let access = req.app_data::<web::Data<Access>>().cloned();
        let limits = req.app_data::<web::Data<RateLimits>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let verifier = verifier.expect("the Verifier is registered as app data");
            let access = access.expect("the access rules are registered as app data");
            let result = match token {
                Ok(token) => verifier.verify(&token).await,
                Err(missing) => Err(missing),
            };
            let principal = match result {
                Ok(principal) => principal,
                Err(error) => {
                    tracing::info!(reason = error.reason(), "token rejected");
                    quotes_core::metrics::record_token_rejection(error.reason());
                    // Whoever sends refused tokens is anonymous: counted by
                    // address, as on every public path.
                    if let Some(limits) = &limits {
                        limits.check_address(&req)?;
                    }
                    return Err(ApiError::Unauthenticated {
                        error,
                        metadata: Some(access.metadata_for(&req)),
                    });
                }
            };
            req.extensions_mut()
                .insert(CallerId(Arc::clone(&principal)));
            // Counted by who the token names, user or not, before it is
            // told what it may not do.
            if let Some(limits) = &limits {
                limits.check_user(&req, &principal.subject)?;
            }
            let required = access.required.of(&req);
            let refusal = if principal.user_id().is_none() {
                Some(Forbidden::NoUser {
                    kind: principal.kind,
                })
            } else {
                let missing = principal.scopes.missing(required);
                (!missing.is_empty()).then_some(Forbidden::InsufficientScope { missing })
            };
            if let Some(refusal) = refusal {
                tracing::info!(?refusal, "token refused for this operation");
                return Err(ApiError::Forbidden {
                    refusal,
                    required,
                    metadata: Some(access.metadata_for(&req)),
                });
            }
            Ok(Self { principal })
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
