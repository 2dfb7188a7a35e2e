//! Each caller's share at the HTTP edge. `/me/*` is counted by the verified
//! user (in the [`Caller`](super::caller::Caller) extractor, once the token
//! is verified, so that users behind one address do not share a limit);
//! everything else by the client address: a `/me/*` request whose token is
//! refused, and one that no handler took a caller for (a `405`, a `404`, a
//! file of the web app), once it is answered. The probes, the metrics and
//! CORS preflights are never limited: a load balancer must always be able
//! to ask, and a preflight does no more work than a probe, while counting
//! it would let anyone behind a user's address block the user's app. Every
//! counted response carries the `RateLimit-Policy` and `RateLimit` headers
//! (IETF draft `draft-ietf-httpapi-ratelimit-headers`), a refused one `429`
//! with `Retry-After`, readable by the pages of the allowed origins.

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, ResponseError, web};

use super::cors::{CorsPolicy, is_preflight};
use super::error::ApiError;
use super::proxies::TrustedProxies;
use quotes_core::rate_limit::{CallerKey, CallerLimits, Policy, Usage};

/// The policy's name in the headers.
const POLICY: &str = "per-caller";

/// Paths a load balancer, an orchestrator or Prometheus calls: never limited.
pub const UNLIMITED: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The callers' limits and who may say where a request came from.
#[derive(Debug)]
pub struct RateLimits {
    limits: Arc<CallerLimits>,
    trusted_proxies: TrustedProxies,
    /// Lets browser apps read the refusals written here.
    cors: CorsPolicy,
    /// `RateLimit-Policy`, the same on every response: made once.
    policy: HeaderValue,
}

/// What this request spent, for the headers of its response.
#[derive(Debug, Clone, Copy)]
struct Spent(Usage);

impl RateLimits {
    pub fn new(
        limits: Arc<CallerLimits>,
        trusted_proxies: TrustedProxies,
        cors: CorsPolicy,
    ) -> Self {
        let Policy { limit, window_secs } = limits.policy();
        let policy = HeaderValue::from_str(&format!("\"{POLICY}\";q={limit};w={window_secs}"))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        Self {
            limits,
            trusted_proxies,
            cors,
            policy,
        }
    }

    /// Counts a request of the verified user `subject`.
    pub fn check_user(&self, req: &HttpRequest, subject: &str) -> Result<(), ApiError> {
        self.check(req, &CallerKey::user(subject), "user")
    }

    /// Counts a request against its client address.
    pub fn check_address(&self, req: &HttpRequest) -> Result<(), ApiError> {
        match self.trusted_proxies.client_address(req) {
            Some(address) => self.check(req, &CallerKey::address(address), "address"),
            None => Ok(()),
        }
    }

    fn check(
        &self,
        req: &HttpRequest,
        key: &CallerKey,
        kind: &'static str,
    ) -> Result<(), ApiError> {
        match self.limits.check(key) {
            Ok(usage) => {
                req.extensions_mut().insert(Spent(usage));
                Ok(())
            }
            Err(limited) => {
                req.extensions_mut().insert(Spent(limited.usage));
                quotes_core::metrics::record_rate_limited(kind);
                Err(ApiError::RateLimited(limited))
            }
        }
    }
}

/// Counts every request but `/me/*` (counted by the caller extractor),
/// the probes and preflights against its client address, refusing it with
/// `429` over the limit; charges the address for a `/me/*` request no
/// handler counted; adds the `RateLimit` headers to every counted response.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let Some(limits) = req.app_data::<web::Data<RateLimits>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let path = req.path();
    let exempt = UNLIMITED.contains(&path) || is_preflight(req.request());
    let by_user = !exempt && (path == "/me" || path.starts_with("/me/"));
    let refused = if by_user || exempt {
        None
    } else {
        limits.check_address(req.request()).err()
    };
    let mut res = match refused {
        Some(error) => req
            .into_response(error.error_response())
            .map_into_right_body(),
        None => next.call(req).await?.map_into_left_body(),
    };
    if by_user
        && !res.request().extensions().contains::<Spent>()
        && let Err(error) = limits.check_address(res.request())
    {
        let (req, _) = res.into_parts();
        res = ServiceResponse::new(req, error.error_response()).map_into_right_body();
    }
    let spent = res.request().extensions().get::<Spent>().copied();
    if let Some(Spent(usage)) = spent {
        limits.set_headers(res.headers_mut(), &usage);
    }
    if res.status() == actix_web::http::StatusCode::TOO_MANY_REQUESTS {
        let (req, mut response) = res.into_parts();
        limits.cors.allow_reading(&req, response.headers_mut());
        res = ServiceResponse::new(req, response);
    }
    Ok(res)
}

impl RateLimits {
    /// The `RateLimit-Policy` and `RateLimit` headers of `usage`.
    fn set_headers(&self, headers: &mut HeaderMap, usage: &Usage) {
        headers.insert(
            HeaderName::from_static("ratelimit-policy"),
            self.policy.clone(),
        );
        let state = format!("\"{POLICY}\";r={};t={}", usage.remaining, usage.reset_secs);
        if let Ok(state) = HeaderValue::from_str(&state) {
            headers.insert(HeaderName::from_static("ratelimit"), state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quotes_core::rate_limit::RateLimitSettings;

    #[test]
    fn the_headers_follow_the_draft() {
        let limits = RateLimits::new(
            Arc::new(CallerLimits::new(RateLimitSettings {
                per_minute: std::num::NonZeroU32::new(600).unwrap(),
                burst: std::num::NonZeroU32::new(100).unwrap(),
            })),
            TrustedProxies::default(),
            CorsPolicy::default(),
        );
        let mut headers = HeaderMap::new();
        limits.set_headers(
            &mut headers,
            &Usage {
                remaining: 97,
                reset_secs: 1,
            },
        );
        assert_eq!(
            headers.get("ratelimit-policy").unwrap(),
            "\"per-caller\";q=100;w=10"
        );
        assert_eq!(headers.get("ratelimit").unwrap(), "\"per-caller\";r=97;t=1");
    }
}
