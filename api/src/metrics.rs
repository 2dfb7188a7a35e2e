//! Prometheus metrics at `GET /metrics`, recorded through the `metrics`
//! facade: requests by route and status, pool usage, signing-key refreshes
//! and token rejections.

use std::sync::OnceLock;
use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::db::Database;

/// Latency buckets in seconds: fine below 10 ms, where this API lives.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide recorder, installed on first use.
fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".to_owned()),
                    &LATENCY_BUCKETS,
                )
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|error| tracing::warn!(%error, "metrics are off"))
                .ok()
        })
        .as_ref()
}

/// Starts recording; called once at start so that early events count.
pub fn install() {
    let _ = handle();
}

/// One finished request.
pub fn record_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let labels = [
        ("method", method.to_owned()),
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

/// Metrics
///
/// Prometheus text format. Expose it to your scraper only.
#[utoipa::path(
    tag = "operations",
    operation_id = "metrics",
    responses((status = OK, description = "Prometheus text exposition format.", body = String,
        content_type = "text/plain; version=0.0.4"))
)]
#[get("/metrics")]
pub async fn prometheus(db: web::Data<Database>) -> HttpResponse {
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
