//! Prometheus metrics, recorded through the `metrics` facade: requests by
//! method, route and status, pool usage, signing-key refreshes and token
//! rejections.
//!
//! Nothing a caller sends can grow them for good: every label takes its
//! values from a fixed set (standard methods and `other`, route patterns
//! and `unmatched`, status codes), and the latency histograms are folded
//! into their buckets by a periodic upkeep, whether anything scrapes or not.
//!
//! They are served on a listener of their own (`METRICS_BIND_ADDR`), so that
//! only the scraper reaches them; the API's own `/metrics` answers `404`
//! unless the operator turns it on (`METRICS_ON_API_LISTENER`).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::http::Method;
use actix_web::{HttpResponse, get, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::db::Database;
use crate::error::ApiError;

/// Latency buckets in seconds: fine below 10 ms, where this API lives.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often recorded latencies are folded into the histograms' buckets.
/// Until then each one is a sample held in memory.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The process-wide recorder.
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Upkeeps run so far.
static UPKEEPS: AtomicU64 = AtomicU64::new(0);

/// Starts recording; called once at start so that early events count.
pub fn install() {
    install_with_upkeep(UPKEEP_INTERVAL);
}

/// As [`install`], with another upkeep interval. Only the first call in a
/// process has any effect.
pub fn install_with_upkeep(interval: Duration) {
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".to_owned()),
                &LATENCY_BUCKETS,
            )
            .and_then(PrometheusBuilder::install_recorder)
            .map_err(|error| tracing::warn!(%error, "metrics are off"))
            .ok()?;
        let upkeep = handle.clone();
        // A thread of its own: it must run whichever runtime is busy.
        let started = std::thread::Builder::new()
            .name("metrics-upkeep".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(interval);
                    upkeep.run_upkeep();
                    UPKEEPS.fetch_add(1, Ordering::Release);
                }
            });
        if let Err(error) = started {
            tracing::warn!(%error, "metrics upkeep cannot start; histograms fold at scrape only");
        }
        Some(handle)
    });
}

/// How many upkeeps have run, so that a caller can tell one has.
pub fn upkeeps() -> u64 {
    UPKEEPS.load(Ordering::Acquire)
}

fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get().and_then(Option::as_ref)
}

/// The label for a request method: one of the standard ones, or `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// One finished request. `route` is a registered pattern, `unmatched` or
/// `unfinished`: never the path a caller chose.
pub fn record_request(method: &Method, route: &str, status: u16, elapsed: Duration) {
    let labels = [
        ("method", method_label(method).to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
}

/// A token refused, by the reason's short name.
pub fn record_token_rejection(reason: &'static str) {
    metrics::counter!("quotes_token_rejections_total", "reason" => reason).increment(1);
}

/// One attempt to refresh the signing keys.
pub fn record_jwks_refresh(trigger: &'static str, ok: bool) {
    let outcome = if ok { "ok" } else { "error" };
    metrics::counter!("quotes_jwks_refreshes_total", "trigger" => trigger, "outcome" => outcome)
        .increment(1);
}

/// Whether the API's own listener serves `/metrics` too, as app data.
#[derive(Debug, Clone, Copy)]
pub struct OnApiListener(pub bool);

/// Metrics
///
/// Prometheus text format. Served on `METRICS_BIND_ADDR`; on the API's
/// listener only when `METRICS_ON_API_LISTENER` is on, and `404` otherwise.
#[utoipa::path(
    tag = "operations",
    operation_id = "metrics",
    responses(
        (status = OK, description = "Prometheus text exposition format (version 0.0.4).", body = String,
            content_type = "text/plain"),
        (status = NOT_FOUND, description = "Metrics are not served on this listener.",
            body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/metrics")]
pub async fn prometheus(
    db: web::Data<Database>,
    on_api: Option<web::Data<OnApiListener>>,
) -> Result<HttpResponse, ApiError> {
    if on_api.is_some_and(|on| !on.0) {
        return Err(ApiError::RouteNotFound);
    }
    Ok(render(&db))
}

/// Methods other than GET: 405, or 404 where metrics are not served.
pub async fn other_methods(
    on_api: Option<web::Data<OnApiListener>>,
) -> Result<HttpResponse, ApiError> {
    Err(match on_api {
        Some(on) if !on.0 => ApiError::RouteNotFound,
        _ => ApiError::MethodNotAllowed { allow: "GET, HEAD" },
    })
}

/// The exposition, with the pool's gauges read now.
pub fn render(db: &Database) -> HttpResponse {
    let pool = db.status();
    #[expect(clippy::cast_precision_loss, reason = "pool sizes are small")]
    {
        metrics::gauge!("quotes_db_pool_max_connections").set(pool.max_size as f64);
        metrics::gauge!("quotes_db_pool_connections", "state" => "idle").set(pool.available as f64);
        metrics::gauge!("quotes_db_pool_connections", "state" => "in_use")
            .set(pool.size.saturating_sub(pool.available) as f64);
        metrics::gauge!("quotes_db_pool_waiting_requests").set(pool.waiting as f64);
    }
    let body = handle().map(PrometheusHandle::render).unwrap_or_default();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}

/// The metrics listener's app: `GET /metrics` and nothing else.
pub fn listener_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(prometheus)
        .route("/metrics", web::to(other_methods))
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(ApiError::RouteNotFound)
        }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_set_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for invented in ["XXXX0001", "get", "PROPFIND"] {
            let method = Method::from_bytes(invented.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other", "{invented}");
        }
    }
}
