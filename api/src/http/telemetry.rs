//! Per request: its id, a span every log line inside it carries, one
//! access-log line, the request metrics, and the deadline.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Instrument as _;

use super::caller::CallerId;
use super::error::ApiError;
use super::request_id::{REQUEST_ID, is_sane_request_id, new_request_id};

/// Per request: the request id (kept from `X-Request-Id` when it is sane,
/// else made here, and echoed), a `request` span carrying it around
/// everything the request logs, one log line with method, path (never the
/// query, which may hold secrets), status, latency, request id and caller id
/// (never the token), and the request metrics by route and status.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let _in_flight = quotes_core::metrics::request_started();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_sane_request_id(id))
        .map_or_else(new_request_id, str::to_owned);
    let span = tracing::info_span!("request", request_id = %request_id);
    let response = next.call(req).instrument(span).await;
    let elapsed = started.elapsed();
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    match response {
        Ok(mut res) => {
            let status = res.status().as_u16();
            let route = res
                .request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_owned());
            quotes_core::metrics::record_request(&method, &route, status, elapsed);
            let caller = res
                .request()
                .extensions()
                .get::<CallerId>()
                .map(|id| std::sync::Arc::clone(&id.0));
            tracing::info!(
                target: "quotes_api::access",
                %method,
                path,
                status,
                latency_ms,
                request_id,
                caller = caller.as_ref().map_or("-", |p| p.subject.as_str()),
                client = caller.as_ref().and_then(|p| p.client_id.as_deref()).unwrap_or("-"),
                actor = caller.as_ref().and_then(|p| p.actor.as_deref()).unwrap_or("-"),
                "request"
            );
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                res.headers_mut()
                    .insert(HeaderName::from_static(REQUEST_ID), value);
            }
            Ok(res)
        }
        Err(error) => {
            let status = error.as_response_error().status_code().as_u16();
            let error = super::error::with_headers(error, |headers| {
                if let Ok(value) = HeaderValue::from_str(&request_id) {
                    headers.insert(HeaderName::from_static(REQUEST_ID), value);
                }
            });
            quotes_core::metrics::record_request(&method, "unfinished", status, elapsed);
            tracing::warn!(
                target: "quotes_api::access",
                %method,
                path,
                latency_ms,
                status,
                request_id,
                %error,
                "request failed"
            );
            Err(error)
        }
    }
}

/// The longest a request may take, as app data for [`deadline`].
#[derive(Debug, Clone, Copy)]
pub struct RequestTimeout(pub std::time::Duration);

/// Answers 408 when a request takes longer than [`RequestTimeout`]: a client
/// trickling its body byte by byte cannot hold a worker's attention for
/// ever. (Slow headers are cut by actix's own client request timeout.)
///
/// The answer travels as an error: the request itself is still owned by the
/// abandoned handler, and actix renders the error (problem+json) instead.
pub async fn deadline<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let limit = req
        .app_data::<RequestTimeout>()
        .map_or(std::time::Duration::from_secs(15), |timeout| timeout.0);
    match tokio::time::timeout(limit, next.call(req)).await {
        Ok(response) => response,
        Err(_) => Err(ApiError::RequestTimeout { limit }.into()),
    }
}
