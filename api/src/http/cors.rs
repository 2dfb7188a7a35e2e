//! The API's CORS policy: which origins' pages may call it, with which
//! methods and headers, and which answer headers their scripts may read.
//! One policy serves the middleware around the API's routes and the
//! answers written outside it (a `429` from the rate limit), so that a
//! browser app can read every refusal it gets.

use std::sync::Arc;

use actix_cors::Cors;
use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::request_id::REQUEST_ID;

/// Answer headers a page's script may read: the challenge of a `401`,
/// when to retry, where the caller stands with its rate, the request id.
const EXPOSED: [&str; 5] = [
    "www-authenticate",
    "retry-after",
    "ratelimit",
    "ratelimit-policy",
    REQUEST_ID,
];

/// The origins allowed to call the API from a browser.
#[derive(Debug, Clone, Default)]
pub struct CorsPolicy {
    origins: Arc<[String]>,
}

impl CorsPolicy {
    /// `origins` as `CORS_ALLOWED_ORIGINS` lists them (normalised).
    pub fn new(origins: Vec<String>) -> Self {
        Self {
            origins: origins.into(),
        }
    }

    /// The middleware for the API's routes, allowing `methods`.
    pub fn middleware(&self, methods: Vec<actix_web::http::Method>) -> Cors {
        let mut cors = Cors::default()
            .allowed_methods(methods)
            // Clients generated from the OpenAPI document (progenitor's) send
            // `api-version` on every request; any client may send its own
            // request id.
            .allowed_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("api-version"),
                HeaderName::from_static(REQUEST_ID),
            ])
            .expose_headers(EXPOSED.map(HeaderName::from_static))
            .max_age(3600)
            // Requests from other origins go on without CORS headers, so the
            // browser blocks them; non-browser clients are unaffected.
            .block_on_origin_mismatch(false);
        for origin in self.origins.iter() {
            cors = cors.allowed_origin(origin);
        }
        cors
    }

    /// Adds what the middleware would to `headers`, an answer to `req`
    /// written outside it, when `req` comes from an allowed origin.
    pub fn allow_reading(&self, req: &HttpRequest, headers: &mut HeaderMap) {
        if headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
            return;
        }
        let Some(origin) = req.headers().get(header::ORIGIN) else {
            return;
        };
        if !self
            .origins
            .iter()
            .any(|allowed| allowed.as_bytes() == origin.as_bytes())
        {
            return;
        }
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        if let Ok(exposed) = HeaderValue::from_str(&EXPOSED.join(", ")) {
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, exposed);
        }
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// Whether `req` is a CORS preflight: an `OPTIONS` that names the method
/// the page wants to use.
pub fn is_preflight(req: &HttpRequest) -> bool {
    req.method() == actix_web::http::Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn answers_written_outside_the_middleware_are_readable_by_allowed_origins() {
        let policy = CorsPolicy::new(vec!["https://app.example.com".to_owned()]);
        let allowed = TestRequest::default()
            .insert_header((header::ORIGIN, "https://app.example.com"))
            .to_http_request();
        let mut headers = HeaderMap::new();
        policy.allow_reading(&allowed, &mut headers);
        assert_eq!(
            headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).unwrap(),
            "https://app.example.com"
        );
        let exposed = headers
            .get(header::ACCESS_CONTROL_EXPOSE_HEADERS)
            .unwrap()
            .to_str()
            .unwrap();
        for name in EXPOSED {
            assert!(exposed.contains(name), "{exposed}");
        }

        let other = TestRequest::default()
            .insert_header((header::ORIGIN, "https://evil.example"))
            .to_http_request();
        let mut headers = HeaderMap::new();
        policy.allow_reading(&other, &mut headers);
        assert!(headers.is_empty());
    }
}
