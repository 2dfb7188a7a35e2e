//! Headers that tell browsers how to treat every response: never sniff a
//! content type, never send a referrer, never frame, and a
//! `Content-Security-Policy` for whatever a response did not set itself
//! (the web app's files and the development provider's pages set their
//! own): Swagger UI's under `/docs/`, and "nothing at all" for the API's
//! JSON, which no browser should render.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

use super::error::with_headers;

/// For the API's own answers: JSON, never a document to render.
pub const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// For Swagger UI: its own scripts and styles (it styles elements inline),
/// its inline icons, and calls to this API only.
pub const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The headers every response carries, whatever wrote it; the
/// `Content-Security-Policy` comes on top, when a response set none.
pub const ALWAYS: [(&str, &str); 3] = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
];

/// Adds the headers to every response, an error's too.
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let policy = if req.path() == "/docs" || req.path().starts_with("/docs/") {
        DOCS_POLICY
    } else {
        API_POLICY
    };
    match next.call(req).await {
        Ok(mut res) => {
            add(res.headers_mut(), policy);
            Ok(res)
        }
        Err(error) => Err(with_headers(error, |headers| add(headers, policy))),
    }
}

fn add(headers: &mut header::HeaderMap, policy: &'static str) {
    for (name, value) in ALWAYS {
        headers.insert(
            header::HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(policy),
        );
    }
}
