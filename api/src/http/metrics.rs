//! `GET /metrics`: the Prometheus exposition. Served on a listener of its
//! own (`METRICS_BIND_ADDR`), so that only the scraper reaches it; the API's
//! own `/metrics` answers `404` unless the operator turns it on
//! (`METRICS_ON_API_LISTENER`).

use actix_web::{HttpRequest, HttpResponse, get, web};

use super::error::{ApiError, Problem, method_not_allowed};
use quotes_core::db::Database;
use quotes_core::metrics;

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
            body = Problem, content_type = "application/problem+json"),
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

/// Whether this listener serves metrics: the metrics listener always, the
/// API's only when `METRICS_ON_API_LISTENER` is on.
pub fn is_served_here(req: &HttpRequest) -> bool {
    req.app_data::<web::Data<OnApiListener>>()
        .is_none_or(|on| on.0)
}

/// The exposition, with the pool's gauges read now.
pub fn render(db: &Database) -> HttpResponse {
    let pool = db.status();
    metrics::record_pool(pool.max_size, pool.size, pool.available, pool.waiting);
    let body = metrics::render();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}

/// The metrics listener's app: `GET /metrics` and nothing else.
pub fn listener_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(prometheus)
        .route("/metrics", method_not_allowed("GET, HEAD"))
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(ApiError::RouteNotFound)
        }));
}
