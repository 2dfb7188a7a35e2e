//! The `quotes-api` binary itself: configuration errors, `migrate`, and a
//! graceful stop on SIGTERM.

use std::future::Future;
use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{
    self, ApiProcess, TestDatabase, TestIdp, TestKey, api_binary, free_port, terminate,
};

/// Longer than anything here should take: a wait this long means the event
/// never came.
const GENEROUS: Duration = Duration::from_secs(20);

/// Polls `check` until it holds; fails the test after [`GENEROUS`].
async fn until<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + GENEROUS;
    while !check().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn binary() -> Command {
    api_binary()
}

fn run(command: &mut Command) -> Output {
    command.stdin(Stdio::null()).output().unwrap()
}

/// Asserts a start-up failure: non-zero exit and one line naming `variable`.
fn assert_config_error(output: &Output, variable: &str) -> String {
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.contains(variable), "names {variable}: {stderr:?}");
    stderr
}

#[test]
fn a_missing_database_url_stops_the_process_with_one_line() {
    let output = run(binary().env("AUTH_ISSUER", "https://issuer.example"));
    assert_config_error(&output, "DATABASE_URL");
    let output = run(binary().arg("migrate"));
    assert_config_error(&output, "DATABASE_URL");
}

#[test]
fn bad_values_are_reported_by_variable_name() {
    let base = [
        ("DATABASE_URL", "postgres://quotes@db.example/quotes"),
        ("AUTH_ISSUER", "https://issuer.example"),
    ];
    for (variable, value) in [
        ("BIND_ADDR", "not-an-address"),
        ("AUTH_ISSUER", ""),
        ("AUTH_ISSUER", "not a url"),
        ("AUTH_JWKS_URL", "ftp://keys.example/jwks"),
        ("AUTH_LEEWAY_SECS", "five"),
        ("AUTH_LEEWAY_SECS", "99999999999"),
        ("AUTH_LEEWAY_SECS", "301"),
        ("AUTH_ISSUER", "http://issuer.example"),
        ("AUTH_ISSUER", "https://issuer.example/?tenant=1"),
        ("AUTH_JWKS_URL", "http://keys.example/jwks.json"),
        ("METRICS_BIND_ADDR", "everywhere"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
        ("CORS_ALLOWED_ORIGINS", "https://app.example.com/path"),
        ("AUTH_AUTHORIZED_PARTIES", "nope"),
        ("DATABASE_POOL_SIZE", "0"),
        ("DATABASE_POOL_MODE", "statement"),
        ("RATE_LIMIT_PER_MINUTE", "0"),
        ("RATE_LIMIT_PER_MINUTE", "lots"),
        ("RATE_LIMIT_BURST", "5000000000"),
        ("LOG_FORMAT", "xml"),
        ("DATABASE_URL", "mysql://localhost/quotes"),
        ("HTTP_HEADER_TIMEOUT_SECS", "0"),
        ("HTTP_KEEP_ALIVE_SECS", "soon"),
        ("SHUTDOWN_DRAIN_SECS", "-1"),
        ("DEV_IDP_TOKEN_TTL_SECS", "0"),
        ("DEV_IDP_TOKEN_TTL_SECS", "86401"),
        ("DEV_IDP_TOKEN_TTL_SECS", "an hour"),
    ] {
        let output = run(binary().envs(base).env(variable, value));
        assert_config_error(&output, variable);
    }
}

#[test]
fn the_database_password_never_appears_in_errors() {
    for url in [
        "postgres://user:hunter2secret@db.example/quotes?sslmode=sometimes",
        "postgres://user:hunter2secret@db.example:notaport/quotes",
        "postgres://user:hunter2secret@db.example/quotes?bogus_option=1",
    ] {
        let output = run(binary()
            .env("DATABASE_URL", url)
            .env("AUTH_ISSUER", "https://issuer.example"));
        let stderr = assert_config_error(&output, "DATABASE_URL");
        assert!(!stderr.contains("hunter2secret"), "{stderr}");
    }
}

#[test]
fn a_bad_webhook_secret_is_named_but_never_shown() {
    for secret in [
        "sk_live_hunter2secret",
        "whsec_hunter2secret!!",
        "whsec_",
        "",
    ] {
        let output = run(binary()
            .env("DATABASE_URL", "postgres://quotes@db.example/quotes")
            .env("AUTH_ISSUER", "https://issuer.example")
            .env("CLERK_WEBHOOK_SIGNING_SECRET", secret));
        let stderr = assert_config_error(&output, "CLERK_WEBHOOK_SIGNING_SECRET");
        assert!(!stderr.contains("hunter2secret"), "{stderr}");
    }
}

#[tokio::test]
async fn migrate_applies_the_schema_and_is_idempotent() {
    let db = TestDatabase::create().await;
    for _ in 0..2 {
        let output = run(binary().arg("migrate").env("DATABASE_URL", db.url()));
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let columns: i64 = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'user_messages'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(columns, 4);
}

async fn start_server(db: &TestDatabase, idp: &TestIdp) -> ApiProcess {
    start_server_with(db, idp, &mut binary()).await
}

/// The server from `command` (which may add settings).
async fn start_server_with(db: &TestDatabase, idp: &TestIdp, command: &mut Command) -> ApiProcess {
    helpers::start_server(&db.url(), idp, command.env("SHUTDOWN_TIMEOUT_SECS", "10")).await
}

#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish() {
    let key = TestKey::rsa();
    let idp = TestIdp::start(&[&key]);
    let db = TestDatabase::create().await;
    let server = start_server(&db, &idp).await;
    let token = key.sign(&idp.claims("user_inflight"));

    // A save whose body stops halfway: the server holds it, waiting.
    let body = br#"{"quote": "Finish what you started."}"#;
    let (head, tail) = body.split_at(10);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream.set_read_timeout(Some(GENEROUS)).unwrap();
    write!(
        stream,
        "PUT /me/quote HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(head).unwrap();
    stream.flush().unwrap();
    until("the save is in flight", || async {
        server.metric("http_requests_in_flight").await == Some(1.0)
    })
    .await;

    // The signal lands while it is in flight; the server stops taking new
    // connections...
    terminate(&server.child.0);
    until("the server stops accepting connections", || async {
        std::net::TcpStream::connect(("127.0.0.1", server.port)).is_err()
    })
    .await;
    // ...and the save it holds still completes.
    stream.write_all(tail).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");

    let exit = tokio::task::spawn_blocking(move || {
        let mut server = server;
        server.child.0.wait().unwrap()
    })
    .await
    .unwrap();
    assert!(exit.success(), "{exit:?}");
    let stored: String = db
        .client()
        .await
        .query_one(
            "SELECT message FROM user_messages WHERE user_id = 'user_inflight'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, "Finish what you started.");
}

#[tokio::test]
async fn healthcheck_reports_readiness_by_exit_code() {
    let key = TestKey::rsa();
    let idp = TestIdp::start(&[&key]);
    let db = TestDatabase::create().await;
    let server = start_server(&db, &idp).await;

    let ready = run(binary()
        .arg("healthcheck")
        .env("BIND_ADDR", format!("0.0.0.0:{}", server.port)));
    assert!(
        ready.status.success(),
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );

    let closed = run(binary()
        .arg("healthcheck")
        .env("BIND_ADDR", format!("127.0.0.1:{}", free_port())));
    assert!(!closed.status.success());
    assert!(String::from_utf8_lossy(&closed.stderr).contains("no answer"));
}

#[test]
fn a_generic_issuer_without_audience_is_warned_about_at_start() {
    // The database is out of reach, which does not stop the start.
    let mut child = binary()
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/quotes")
        .env("AUTH_ISSUER", "https://issuer.example")
        .env("BIND_ADDR", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (found, warned) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let line = std::io::BufRead::lines(std::io::BufReader::new(stderr))
            .map_while(Result::ok)
            .find(|line| line.contains("AUTH_AUDIENCE"));
        let _ = found.send(line);
    });
    let warning = warned.recv_timeout(Duration::from_secs(20)).ok().flatten();
    let _ = child.kill();
    let _ = child.wait();
    let warning = warning.expect("a warning naming AUTH_AUDIENCE");
    assert!(warning.contains("AUTH_AUTHORIZED_PARTIES"), "{warning}");
    assert!(warning.contains("other applications"), "{warning}");
}

#[tokio::test]
async fn every_line_logged_inside_a_request_carries_its_request_id() {
    let key = TestKey::rsa();
    let idp = TestIdp::start(&[&key]);
    let db = TestDatabase::create().await;
    let server = start_server_with(&db, &idp, binary().env("RUST_LOG", "info")).await;
    let received = &server.log;
    // A token for another issuer: refused inside the request, and logged.
    let mut claims = idp.claims("user_traced");
    claims["iss"] = serde_json::json!("https://elsewhere.example");
    let response = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/me/quote", server.port))
        .header("x-request-id", "trace-7f3a")
        .bearer_auth(key.sign(&claims))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut budget = None;
    let rejected = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = received
            .recv_timeout(left)
            .expect("the token rejection is logged");
        let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
        if entry.get("database_connections").is_some() {
            budget = Some(entry.clone());
        }
        if entry["message"] == "token rejected" {
            break entry;
        }
    };
    // The start says how many connections this instance may hold.
    let budget = budget.expect("the connection budget is logged at start");
    assert_eq!(budget["database_connections"], 8, "{budget}");
    assert_eq!(rejected["reason"], "issuer", "{rejected}");
    assert_eq!(rejected["span"]["request_id"], "trace-7f3a", "{rejected}");
}

#[tokio::test]
async fn sigterm_turns_readiness_off_and_serves_on_through_the_drain() {
    let key = TestKey::rsa();
    let idp = TestIdp::start(&[&key]);
    let db = TestDatabase::create().await;
    // A drain far longer than the test: the second signal ends it.
    let server = start_server_with(&db, &idp, binary().env("SHUTDOWN_DRAIN_SECS", "600")).await;
    let client = reqwest::Client::new();
    let status = |path: &'static str| {
        let request = client.get(server.url(path));
        async move { request.send().await.map(|r| r.status().as_u16()) }
    };
    assert_eq!(status("/readyz").await.unwrap(), 200);

    terminate(&server.child.0);
    // Not ready, so that a balancer stops sending new requests...
    until("/readyz answers 503 after SIGTERM", || async {
        status("/readyz").await.unwrap() == 503
    })
    .await;
    // ...while requests that still arrive are served.
    assert_eq!(status("/healthz").await.unwrap(), 200);
    let saved = client
        .put(server.url("/me/quote"))
        .bearer_auth(key.sign(&idp.claims("user_draining")))
        .json(&serde_json::json!({"quote": "Served while draining."}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 201);
    assert_eq!(status("/readyz").await.unwrap(), 503);

    // A second signal skips the rest of the drain: it stops, cleanly.
    terminate(&server.child.0);
    let exit = tokio::task::spawn_blocking(move || {
        let mut server = server;
        server.child.0.wait().unwrap()
    })
    .await
    .unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn the_drain_ends_by_itself() {
    let key = TestKey::rsa();
    let idp = TestIdp::start(&[&key]);
    let db = TestDatabase::create().await;
    let server = start_server_with(&db, &idp, binary().env("SHUTDOWN_DRAIN_SECS", "1")).await;
    terminate(&server.child.0);
    let exit = tokio::task::spawn_blocking(move || {
        let mut server = server;
        server.child.0.wait().unwrap()
    })
    .await
    .unwrap();
    assert!(exit.success(), "{exit:?}");
}
