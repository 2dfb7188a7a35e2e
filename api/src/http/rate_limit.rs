//! Each caller's share at the HTTP edge. `/me/*` is counted by the verified
//! user (in the [`Caller`](super::caller::Caller) extractor, once the token
//! is verified, so that users behind one address do not share a limit);
//! everything else, a `/me/*` request whose token is refused and a CORS
//! preflight, by the client address. The probes and metrics are never
//! limited: a load balancer must always be able to ask. Every counted
//! response carries the
//! `RateLimit-Policy` and `RateLimit` headers (IETF draft
//! `draft-ietf-httpapi-ratelimit-headers`), a refused one `429` with
//! `Retry-After`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, ResponseError, web};
use ipnet::IpNet;

use super::error::ApiError;
use crate::rate_limit::{CallerKey, CallerLimits, Usage};

/// The policy's name in the headers.
const POLICY: &str = "per-caller";

/// Paths a load balancer, an orchestrator or Prometheus calls: never limited.
pub const UNLIMITED: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The callers' limits and who may say where a request came from.
#[derive(Debug)]
pub struct RateLimits {
    limits: Arc<CallerLimits>,
    trusted_proxies: Vec<IpNet>,
    /// `RateLimit-Policy`, the same on every response: made once.
    policy: HeaderValue,
}

/// What this request spent, for the headers of its response.
#[derive(Debug, Clone, Copy)]
struct Spent(Usage);

impl RateLimits {
    pub fn new(limits: Arc<CallerLimits>, trusted_proxies: &[IpNet]) -> Self {
        let (quota, window) = limits.policy();
        let policy = HeaderValue::from_str(&format!("\"{POLICY}\";q={quota};w={window}"))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        Self {
            limits,
            trusted_proxies: trusted_proxies.to_vec(),
            policy,
        }
    }

    /// Counts a request of the verified user `subject`.
    pub fn check_user(&self, req: &HttpRequest, subject: &str) -> Result<(), ApiError> {
        self.check(req, &CallerKey::user(subject), "user")
    }

    /// Counts a request against its client address.
    pub fn check_address(&self, req: &HttpRequest) -> Result<(), ApiError> {
        match self.client_address(req) {
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
                crate::metrics::record_rate_limited(kind);
                Err(ApiError::RateLimited(limited))
            }
        }
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy;
    /// then `X-Forwarded-For` read from the right, past every trusted proxy,
    /// to the first address that is not one (anything left of it may be
    /// made up by the client).
    fn client_address(&self, req: &HttpRequest) -> Option<IpAddr> {
        let mut client = req.peer_addr()?.ip().to_canonical();
        let trusted = |ip: &IpAddr| self.trusted_proxies.iter().any(|net| net.contains(ip));
        if !trusted(&client) {
            return Some(client);
        }
        let hops: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) => {
                    client = ip;
                    if !trusted(&ip) {
                        break;
                    }
                }
                None => break,
            }
        }
        Some(client)
    }
}

/// One `X-Forwarded-For` entry: an address, with a port for some proxies.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|addr| addr.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// Counts every request but `/me/*` (counted by the caller extractor) and
/// the probes against its client address, refusing it with `429` over the
/// limit, and adds the `RateLimit` headers to every counted response.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let Some(limits) = req.app_data::<web::Data<RateLimits>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let path = req.path();
    // A preflight never reaches the caller extractor: it is anonymous.
    let by_user = path.starts_with("/me/") && req.method() != Method::OPTIONS;
    let refused = if by_user || UNLIMITED.contains(&path) {
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
    let spent = res.request().extensions().get::<Spent>().copied();
    if let Some(Spent(usage)) = spent {
        limits.set_headers(res.headers_mut(), &usage);
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
    use crate::rate_limit::RateLimitSettings;
    use actix_web::test::TestRequest;

    fn limits(trusted: &[&str]) -> RateLimits {
        let trusted: Vec<IpNet> = trusted.iter().map(|net| net.parse().unwrap()).collect();
        RateLimits::new(
            Arc::new(CallerLimits::new(RateLimitSettings::default())),
            &trusted,
        )
    }

    fn from(peer: &str, forwarded_for: Option<&str>) -> HttpRequest {
        let mut req = TestRequest::default().peer_addr(peer.parse().unwrap());
        if let Some(value) = forwarded_for {
            req = req.insert_header(("x-forwarded-for", value));
        }
        req.to_http_request()
    }

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_are_believed_from_trusted_proxies_only() {
        let limits = limits(&["10.0.0.0/8"]);
        // An untrusted peer's header is the client's own say-so.
        assert_eq!(
            limits.client_address(&from("203.0.113.9:4000", Some("198.51.100.1"))),
            Some(ip("203.0.113.9"))
        );
        // Through the trusted proxy: the address it saw.
        assert_eq!(
            limits.client_address(&from("10.0.0.2:4000", Some("198.51.100.1"))),
            Some(ip("198.51.100.1"))
        );
        // A client that forges an entry gets the proxy's entry after it.
        assert_eq!(
            limits.client_address(&from(
                "10.0.0.2:4000",
                Some("192.0.2.66, 198.51.100.1, 10.0.0.3")
            )),
            Some(ip("198.51.100.1"))
        );
        // Garbage stops the walk at the last address a trusted hop vouched for.
        assert_eq!(
            limits.client_address(&from("10.0.0.2:4000", Some("not-an-ip, 10.0.0.3"))),
            Some(ip("10.0.0.3"))
        );
        assert_eq!(
            limits.client_address(&from("10.0.0.2:4000", Some("[2001:db8::1]:443"))),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(
            limits.client_address(&from("10.0.0.2:4000", None)),
            Some(ip("10.0.0.2"))
        );
    }

    #[test]
    fn the_headers_follow_the_draft() {
        let limits = RateLimits::new(
            Arc::new(CallerLimits::new(RateLimitSettings {
                per_minute: std::num::NonZeroU32::new(600).unwrap(),
                burst: std::num::NonZeroU32::new(100).unwrap(),
            })),
            &[],
        );
        let mut headers = HeaderMap::new();
        limits.set_headers(
            &mut headers,
            &Usage {
                limit: 100,
                window_secs: 10,
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
