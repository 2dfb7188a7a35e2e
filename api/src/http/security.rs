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

/// For the API's own answers: JSON, never a document to render.
pub const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// For Swagger UI: its own scripts and styles (it styles elements inline),
/// its inline icons, and calls to this API only.
pub const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A `'sha256-…'` source for `text`, as a policy names an inline script or
/// stylesheet it allows.
pub fn hash_source(text: &str) -> String {
    use base64::Engine as _;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    )
}

/// Adds the headers to every response.
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let policy = if req.path() == "/docs" || req.path().starts_with("/docs/") {
        DOCS_POLICY
    } else {
        API_POLICY
    };
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(policy),
        );
    }
    Ok(res)
}
