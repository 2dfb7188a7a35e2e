//! Memory stays flat with nobody scraping: a million requests' worth of
//! metrics, recorded through the same function the request middleware
//! calls, with the upkeep the server runs. A test binary of its own, so
//! that the resident size measured is this process's alone.

#![expect(
    clippy::unwrap_used,
    reason = "a failed step should stop the test right there"
)]

use std::time::{Duration, Instant};

use actix_web::http::Method;
use quotes_core::metrics;

/// Resident memory of this process, in KiB.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Records `count` requests spread over a few routes and statuses.
fn record(count: u32) {
    let routes = ["/me/quote", "/healthz", "unmatched"];
    for i in 0..count {
        let route = routes[i as usize % routes.len()];
        let status = if i % 7 == 0 { 404 } else { 200 };
        metrics::record_request(
            &Method::GET,
            route,
            status,
            Duration::from_micros(u64::from(i % 5000)),
        );
    }
}

/// Returns once an upkeep has run after this call.
fn wait_for_upkeep() {
    let seen = metrics::upkeeps();
    let deadline = Instant::now() + Duration::from_secs(10);
    while metrics::upkeeps() == seen {
        assert!(Instant::now() < deadline, "no upkeep ran");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_million_requests_without_a_scrape_leave_memory_flat() {
    metrics::install_with_upkeep(Duration::from_millis(20));
    // The first batch creates every series and warms the allocator.
    record(100_000);
    wait_for_upkeep();
    let before = resident_kib();
    for _ in 0..10 {
        record(100_000);
        wait_for_upkeep();
    }
    let grown = resident_kib().saturating_sub(before);
    // Unfolded, a million samples alone hold 8 MB.
    assert!(
        grown < 2048,
        "resident memory grew by {grown} KiB over a million requests"
    );
}
