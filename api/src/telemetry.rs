//! Logging: set up once at start; one line per request.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing_subscriber::EnvFilter;

use crate::auth::CallerId;
use crate::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG` overrides the default level.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A second init (as in tests that build several apps) keeps the first.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// For tests: logs go through the test harness, which shows them only for
/// failing tests.
pub fn init_for_tests() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Logs method, path (never the query, which may hold secrets), status,
/// latency and the caller's id. The token itself is never logged.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let response = next.call(req).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match &response {
        Ok(res) => {
            let caller = res
                .request()
                .extensions()
                .get::<CallerId>()
                .map(|id| id.0.clone());
            tracing::info!(
                target: "quotes_api::access",
                %method,
                path,
                status = res.status().as_u16(),
                latency_ms,
                caller = caller.as_deref().unwrap_or("-"),
                "request"
            );
        }
        Err(error) => tracing::warn!(
            target: "quotes_api::access",
            %method,
            path,
            latency_ms,
            %error,
            "request failed"
        ),
    }
    response
}
