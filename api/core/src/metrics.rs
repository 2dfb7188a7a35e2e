//! Prometheus metrics, recorded through the `metrics` facade: requests by
//! method, route and status, pool usage, the database's batches,
//! signing-key refreshes and token rejections.
//!
//! Nothing a caller sends can grow them for good: every label takes its
//! values from a fixed set (standard methods and `other`, route patterns
//! and `unmatched`, status codes), and the latency histograms are folded
//! into their buckets by a periodic upkeep, whether anything scrapes or not.
//!
//! A leaf: `http::metrics` serves them.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::Method;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds: fine below 10 ms, where this API lives.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Batch sizes: how many requests shared one statement.
const BATCH_BUCKETS: [f64; 7] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// How often recorded latencies are folded into the histograms' buckets.
/// Until then each one is a sample held in memory: at the tens of
/// thousands of requests a second one worker serves, five seconds' worth
/// held megabytes, a second's worth holds a fifth of that.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

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
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full("quotes_db_batch_size".to_owned()),
                    &BATCH_BUCKETS,
                )
            })
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

/// The exposition in Prometheus' text format; empty while metrics are off.
pub fn render() -> String {
    handle().map(PrometheusHandle::render).unwrap_or_default()
}

/// Sets the connection pool's gauges, read just before a scrape.
#[expect(clippy::cast_precision_loss, reason = "pool sizes are small")]
pub fn record_pool(max_size: usize, size: usize, available: usize, waiting: usize) {
    metrics::gauge!("quotes_db_pool_max_connections").set(max_size as f64);
    metrics::gauge!("quotes_db_pool_connections", "state" => "idle").set(available as f64);
    metrics::gauge!("quotes_db_pool_connections", "state" => "in_use")
        .set(size.saturating_sub(available) as f64);
    metrics::gauge!("quotes_db_pool_waiting_requests").set(waiting as f64);
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

/// A request being served, counted in `http_requests_in_flight` until the
/// guard is dropped (the request answered, or abandoned).
#[derive(Debug)]
#[must_use = "the request counts as in flight until this is dropped"]
pub struct InFlight(metrics::Gauge);

/// Counts a request in flight; see [`InFlight`].
pub fn request_started() -> InFlight {
    // One handle for every request: looking the gauge up each time would
    // hash its name on every request.
    static GAUGE: OnceLock<metrics::Gauge> = OnceLock::new();
    let gauge = GAUGE
        .get_or_init(|| metrics::gauge!("http_requests_in_flight"))
        .clone();
    gauge.increment(1.0);
    InFlight(gauge)
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// One statement sent for `size` requests of a kind (`find`, `save`).
#[expect(clippy::cast_precision_loss, reason = "batches are small")]
pub fn record_batch(kind: &'static str, size: usize) {
    metrics::histogram!("quotes_db_batch_size", "kind" => kind).record(size as f64);
}

/// Requests waiting for a database batch of one kind to start, over
/// every worker: `quotes_db_queued_requests`. (They wait in a queue, not
/// for a pooled connection, so `quotes_db_pool_waiting_requests` does not
/// count them.)
#[derive(Clone)]
pub struct Queued(metrics::Gauge);

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queued").finish_non_exhaustive()
    }
}

impl Queued {
    /// The gauge of `kind` (`find`, `save`), looked up once.
    pub fn new(kind: &'static str) -> Self {
        Self(metrics::gauge!("quotes_db_queued_requests", "kind" => kind))
    }

    /// A request joined a queue.
    pub fn joined(&self) {
        self.0.increment(1.0);
    }

    /// `count` requests left a queue: sent, gone or out of time.
    #[expect(clippy::cast_precision_loss, reason = "queues are small")]
    pub fn left(&self, count: usize) {
        if count > 0 {
            self.0.decrement(count as f64);
        }
    }
}

/// A token refused, by the reason's short name.
pub fn record_token_rejection(reason: &'static str) {
    metrics::counter!("quotes_token_rejections_total", "reason" => reason).increment(1);
}

/// A request refused for its caller's rate, by what the caller was
/// counted as (`user` or `address`).
pub fn record_rate_limited(key: &'static str) {
    metrics::counter!("quotes_rate_limited_total", "key" => key).increment(1);
}

/// A connection the server closed on its own, by why: `header_timeout`,
/// `no_request`, `send_timeout`, `idle_under_pressure` or `address_limit`.
pub fn record_connection_closed(reason: &'static str) {
    metrics::counter!("quotes_connections_closed_total", "reason" => reason).increment(1);
}

/// One attempt to refresh the signing keys.
pub fn record_jwks_refresh(trigger: &'static str, ok: bool) {
    let outcome = if ok { "ok" } else { "error" };
    metrics::counter!("quotes_jwks_refreshes_total", "trigger" => trigger, "outcome" => outcome)
        .increment(1);
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
