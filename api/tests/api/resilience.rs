//! Failures production brings: the database going away under load, a pool
//! too small for the load, slow or greedy clients, the identity provider
//! failing. Nothing acknowledged may be lost, nothing may hang, and the
//! service comes back by itself.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{
    FlakyProxy, JwksMode, Setup, assert_problem, spawn_app, spawn_app_with, test_key_settings,
};

/// How long any request may take while the database is away: the pool's
/// wait and connect timeouts in the test configuration, with a margin.
const WORST_CASE: Duration = Duration::from_secs(5);

/// Where the outage stands, as the writers see it when they send.
const BEFORE: u8 = 0;
const CUT: u8 = 1;
const RESTORED: u8 = 2;

/// What the writers have seen so far.
#[derive(Default)]
struct Seen {
    /// Acknowledged saves, in all.
    acknowledged: AtomicU64,
    /// `503`s, in all.
    unavailable: AtomicU64,
    /// Writers with a save sent after the restore and acknowledged.
    healed: AtomicU64,
}

/// Polls `check` until it holds; fails the test after [`WORST_CASE`] times
/// four, far more than any step here takes.
async fn until(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + WORST_CASE * 4;
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One writer: saves a new text after another until `running` is off;
/// answers what it sent, in order, whether each was acknowledged, and the
/// statuses.
async fn write_until_stopped(
    writer: u64,
    client: reqwest::Client,
    url: String,
    token: String,
    phase: Arc<AtomicU8>,
    running: Arc<AtomicBool>,
    seen: Arc<Seen>,
) -> (u64, Vec<(String, bool)>, Vec<u16>) {
    // (text, acknowledged) in the order sent
    let mut sent = Vec::new();
    let mut statuses = Vec::new();
    let mut healed = false;
    let mut attempt = 0;
    while running.load(Ordering::SeqCst) {
        attempt += 1;
        let text = format!("writer {writer}, attempt {attempt}");
        let sent_in = phase.load(Ordering::SeqCst);
        let started = Instant::now();
        let response = client
            .put(&url)
            .bearer_auth(&token)
            .json(&json!({ "quote": text }))
            .send()
            .await
            .unwrap();
        assert!(
            started.elapsed() < WORST_CASE,
            "a PUT hung for {:?}",
            started.elapsed()
        );
        let status = response.status().as_u16();
        match status {
            200 | 201 => {
                seen.acknowledged.fetch_add(1, Ordering::SeqCst);
                if sent_in == RESTORED && !healed {
                    healed = true;
                    seen.healed.fetch_add(1, Ordering::SeqCst);
                }
            }
            503 => {
                let problem: Value = response.json().await.unwrap();
                assert_eq!(problem["type"], "urn:quotes:problem:unavailable");
                seen.unavailable.fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        }
        statuses.push(status);
        sent.push((text, matches!(status, 200 | 201)));
        // A steady load rather than a spin while the database is away.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (writer, sent, statuses)
}

#[tokio::test]
async fn no_acknowledged_write_is_lost_when_the_database_goes_away_under_load() {
    let proxy = FlakyProxy::to_database().await;
    let app = spawn_app_with(Setup {
        database_url: Some(proxy.database_url()),
        // Eight writers as fast as the outage lets them (a 503 comes back at
        // once): the subject is the outage, not each caller's share.
        configure: Box::new(|config, _| config.rate_limit = None),
        ..Setup::default()
    })
    .await;

    let writers: u64 = 8;
    let phase = Arc::new(AtomicU8::new(BEFORE));
    let running = Arc::new(AtomicBool::new(true));
    let seen = Arc::new(Seen::default());
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let client = app.client.clone();
            let url = app.url("/me/quote");
            let token = app.token(&format!("writer_{writer}"));
            let (phase, running, seen) = (phase.clone(), running.clone(), seen.clone());
            tokio::spawn(write_until_stopped(
                writer, client, url, token, phase, running, seen,
            ))
        })
        .collect();

    // Writes go through; then the database goes away until every writer
    // has been refused; then it comes back until every writer has saved.
    until("saves are acknowledged", || {
        seen.acknowledged.load(Ordering::SeqCst) >= writers
    })
    .await;
    proxy.cut();
    phase.store(CUT, Ordering::SeqCst);
    until("the outage is noticed", || {
        seen.unavailable.load(Ordering::SeqCst) >= writers
    })
    .await;
    proxy.restore();
    phase.store(RESTORED, Ordering::SeqCst);
    until("every writer saves again after the outage", || {
        seen.healed.load(Ordering::SeqCst) == writers
    })
    .await;
    running.store(false, Ordering::SeqCst);

    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let statuses: Vec<u16> = outcomes.iter().flat_map(|(_, _, s)| s.clone()).collect();
    assert!(
        statuses.iter().all(|s| matches!(s, 200 | 201 | 503)),
        "{statuses:?}"
    );

    let client = app.db.client().await;
    let stored: HashMap<String, String> = client
        .query("SELECT user_id, message FROM user_messages", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    for (writer, sent, _) in outcomes {
        let last_acknowledged = sent.iter().rposition(|(_, ok)| *ok).unwrap();
        // What is stored is the last acknowledged text, or one sent after it
        // whose answer was lost in the outage: never an older one.
        let acceptable: Vec<&String> = sent[last_acknowledged..]
            .iter()
            .map(|(text, _)| text)
            .collect();
        let value = &stored[&format!("writer_{writer}")];
        assert!(
            acceptable.contains(&value),
            "writer {writer} lost a write: {value}"
        );
    }
}

#[tokio::test]
async fn more_requests_than_connections_wait_briefly_then_get_503_and_recover() {
    let proxy = FlakyProxy::to_database().await;
    let app = spawn_app_with(Setup {
        database_url: Some(proxy.database_url()),
        configure: Box::new(|config, _| {
            config.database.pool_size = 2;
            config.database.acquire_timeout = Duration::from_millis(300);
            // The recovery is polled as fast as it comes: not the subject.
            config.rate_limit = None;
        }),
        ..Setup::default()
    })
    .await;
    let token = app.token("user_crowd");
    app.put_quote(&token, "Crowded.").await;

    proxy.slow_down(Duration::from_millis(400));
    let burst = (0..12).map(|_| {
        let request = app.client.get(app.url("/me/quote")).bearer_auth(&token);
        async move {
            let started = Instant::now();
            let response = request.send().await.unwrap();
            (response.status().as_u16(), started.elapsed())
        }
    });
    let results = futures_util::future::join_all(burst).await;
    assert!(
        results.iter().all(|(s, _)| matches!(s, 200 | 503)),
        "{results:?}"
    );
    assert!(
        results.iter().any(|(s, _)| *s == 503),
        "the pool ran out: {results:?}"
    );
    assert!(
        results.iter().all(|(_, t)| *t < WORST_CASE),
        "bounded waits: {results:?}"
    );

    proxy.slow_down(Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let statuses = futures_util::future::join_all((0..4).map(|_| app.get_quote(&token))).await;
        if statuses.iter().all(|r| r.status() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A raw connection that has started a request and stalls.
fn stalled_connection(port: u16, partial: &str) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(partial.as_bytes()).unwrap();
    stream
}

fn port_of(app: &crate::helpers::TestApp) -> u16 {
    app.address.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_do_not_stop_others() {
    let app = spawn_app_with(Setup {
        configure: Box::new(|config, _| {
            config.request_timeout = Duration::from_secs(2);
            config.connections.header_timeout = Duration::from_secs(1);
        }),
        ..Setup::default()
    })
    .await;
    let port = port_of(&app);
    let token = app.token("user_patient");

    // Slowloris: headers that never end.
    let slow_headers: Vec<_> = (0..50)
        .map(|_| stalled_connection(port, "GET /me/quote HTTP/1.1\r\nHost: x\r\nX-Slow: "))
        .collect();
    // A body trickled far slower than the request timeout allows.
    let mut trickle = stalled_connection(
        port,
        &format!(
            "PUT /me/quote HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"quote\": \""
        ),
    );

    // Meanwhile everyone else is served (a hang would time out).
    for _ in 0..5 {
        let response = app
            .client
            .get(app.url("/healthz"))
            .timeout(WORST_CASE)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    let answer = tokio::task::spawn_blocking(move || {
        trickle
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let started = Instant::now();
        let mut response = Vec::new();
        loop {
            // One byte at a time, as long as the server listens.
            if trickle.write_all(b"a").is_err() {
                break;
            }
            let mut chunk = [0u8; 512];
            trickle.set_nonblocking(true).unwrap();
            if let Ok(read) = trickle.read(&mut chunk) {
                response.extend_from_slice(&chunk[..read]);
                if read == 0 || response.ends_with(b"}") {
                    break;
                }
            }
            trickle.set_nonblocking(false).unwrap();
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the trickle was never cut off"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        String::from_utf8_lossy(&response).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");

    // The slowloris connections are closed by the server once the header
    // timeout (1 s here) is up: each read returns as soon as that happens.
    let deadline = Instant::now() + Duration::from_secs(5);
    let closed = tokio::task::spawn_blocking(move || {
        slow_headers
            .iter()
            .filter(|stream| {
                let left = deadline.saturating_duration_since(Instant::now());
                stream
                    .set_read_timeout(Some(left.max(Duration::from_millis(10))))
                    .unwrap();
                let mut buf = [0u8; 256];
                (&**stream).read(&mut buf).is_ok()
            })
            .count()
    })
    .await
    .unwrap();
    assert_eq!(
        closed, 50,
        "every stalled connection was answered or closed"
    );
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn huge_headers_are_refused_with_431_and_the_server_still_answers() {
    let app = spawn_app().await;
    let token = app.token("user_huge_headers");
    // Fresh connections for every request: the server closes the one it
    // refused the huge headers on.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    // A valid token, so that nothing but the headers' size is wrong.
    let huge = client
        .get(app.url("/me/quote"))
        .bearer_auth(&token)
        .header("x-padding", "p".repeat(200 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 431);
    let after = client
        .get(app.url("/me/quote"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 404);
}

#[tokio::test]
async fn a_thousand_idle_connections_do_not_starve_others() {
    let app = spawn_app().await;
    let addr = app.socket_addr();
    // From four addresses, each within its share of connections.
    let idle: Vec<_> = (0..1000u16)
        .map(|i| {
            let socket =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            let from = std::net::SocketAddr::from(([127, 0, 0, 10 + (i % 4) as u8], 0));
            socket.bind(&from.into()).unwrap();
            socket.connect(&addr.into()).unwrap();
            std::net::TcpStream::from(socket)
        })
        .collect();
    for _ in 0..3 {
        let response = app
            .client
            .get(app.url("/me/quote"))
            .bearer_auth(app.token("user_crowded"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
    }
    drop(idle);
}

#[tokio::test]
async fn a_failing_jwks_endpoint_fails_no_request_with_a_known_key() {
    let app = spawn_app_with(Setup {
        configure: Box::new(|config, idp| {
            idp.set_cache_control("max-age=1");
            // Eight users as fast as they can go: the subject is the key
            // store, not each caller's share.
            config.rate_limit = None;
        }),
        key_settings: quotes_core::auth::KeyStoreSettings {
            min_max_age: Duration::from_secs(1),
            cooldown: Duration::from_secs(1),
            ..test_key_settings()
        },
        ..Setup::default()
    })
    .await;
    let tokens: Vec<String> = (0..8).map(|i| app.token(&format!("user_{i}"))).collect();
    app.idp.set_mode(JwksMode::Fail);
    let fetches = app.idp.jwks_fetches();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut requests = 0;
    while Instant::now() < deadline {
        let burst = tokens.iter().map(|token| app.get_quote(token));
        for response in futures_util::future::join_all(burst).await {
            assert_eq!(response.status(), 404, "a request with a known key failed");
            requests += 1;
        }
        app.idp.set_mode(if requests % 2 == 0 {
            JwksMode::Fail
        } else {
            JwksMode::Slow(Duration::from_secs(3))
        });
    }
    assert!(
        app.idp.jwks_fetches() > fetches,
        "refreshes were attempted (and failed)"
    );
    assert_problem(app.get_quote("not-a-token").await, 401).await;
}
