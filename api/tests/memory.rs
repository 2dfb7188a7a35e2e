//! Memory stays flat with nobody scraping: a million requests' worth of
//! metrics, recorded through the same function the request middleware
//! calls, with the upkeep the server runs. A test binary of its own, whose
//! allocator counts the bytes it holds, so what is measured is what the
//! process keeps, exactly, not what the operating system shows of it.

use std::alloc::System;
use std::time::{Duration, Instant};

use actix_web::http::Method;
use cap::Cap;
use quotes_core::metrics;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Bytes this process holds now.
fn held() -> usize {
    ALLOCATOR.allocated()
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
    let before = held();
    for _ in 0..10 {
        record(100_000);
        wait_for_upkeep();
    }
    let grown = held().saturating_sub(before);
    // Unfolded, a million samples alone would hold 8 MB; folded, what is
    // held does not grow with the requests at all (a few KiB of slack for
    // whatever the upkeep thread has in hand at that moment).
    assert!(
        grown < 64 * 1024,
        "the process holds {grown} more bytes after a million requests"
    );
}
