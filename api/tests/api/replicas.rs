//! Three `quotes-api` processes behind a real load balancer (Debian's
//! `haproxy`, health-checking `/readyz`), one Postgres, a steady mix of
//! reads and writes, and every replica restarted in turn, as a rolling
//! deploy does: no request fails, and every acknowledged write is stored.
//!
//! `haproxy` is found at `HAPROXY` or `/usr/sbin/haproxy`; `cargo xtask test`
//! installs it (`apt-get install haproxy`) before the Rust tests.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::helpers::{
    ApiProcess, KillOnDrop, Service, TempPath, TestDatabase, TestIdp, TestKey, api_binary,
    free_port, start_server_on, terminate, wait_until_ready,
};

/// Concurrent callers, each a user of their own.
const CALLERS: usize = 8;

/// A replica: the real binary on a fixed port, so that it comes back where
/// the balancer expects it.
async fn start_replica(port: u16, db: &TestDatabase, idp: &TestIdp) -> ApiProcess {
    start_server_on(
        port,
        &db.url(),
        idp,
        api_binary()
            .env("DATABASE_POOL_SIZE", "2")
            // Longer than the balancer takes to see /readyz fail (200 ms).
            .env("SHUTDOWN_DRAIN_SECS", "1")
            // Eight callers as fast as they can go: the subject is the
            // restart, not each caller's share.
            .env("RATE_LIMIT_PER_MINUTE", "off")
            .stderr(Stdio::null()),
    )
    .await
}

/// SIGTERM, then the exit, which must be clean.
async fn stop_replica(replica: ApiProcess) {
    terminate(&replica.child.0);
    let exit = tokio::task::spawn_blocking(move || {
        let mut replica = replica;
        replica.child.0.wait().unwrap()
    })
    .await
    .unwrap();
    assert!(exit.success(), "{exit:?}");
}

/// `haproxy` in front of `ports`: round robin over the replicas whose
/// `/readyz` answers 200, checked every 200 ms; its view of them as CSV
/// on `stats`.
fn start_balancer(front: u16, stats: u16, ports: &[u16], config: &TempPath) -> KillOnDrop {
    let mut servers = String::new();
    for (i, port) in ports.iter().enumerate() {
        let _ = writeln!(servers, "    server api{i} 127.0.0.1:{port} check");
    }
    std::fs::write(
        &config.0,
        format!(
            "global\n    maxconn 256\n\
             defaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n    \
             timeout server 10s\n    retries 2\n    option redispatch\n\
             listen stats\n    bind 127.0.0.1:{stats}\n    stats enable\n    stats uri /stats\n\
             frontend quotes\n    bind 127.0.0.1:{front}\n    default_backend api\n\
             backend api\n    balance roundrobin\n    option httpchk GET /readyz\n    \
             http-check expect status 200\n    \
             default-server inter 200ms fastinter 100ms downinter 200ms fall 1 rise 1\n\
             {servers}"
        ),
    )
    .unwrap();
    Service::new("HAPROXY", "/usr/sbin/haproxy", "haproxy").spawn([
        OsStr::new("-db"),
        OsStr::new("-f"),
        config.0.as_os_str(),
    ])
}

/// Waits until `haproxy` has replica `index` up again.
async fn until_balancer_sees_up(client: &reqwest::Client, stats: u16, index: usize) {
    let server = format!("api,api{index},");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let csv = client
            .get(format!("http://127.0.0.1:{stats}/stats;csv"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // Field 18 of a server's line is its status.
        let up = csv
            .lines()
            .find(|line| line.starts_with(&server))
            .and_then(|line| line.split(',').nth(17))
            .is_some_and(|status| status == "UP");
        if up {
            return;
        }
        assert!(Instant::now() < deadline, "HAProxy never saw api{index} up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    failures: AtomicU64,
}

/// How many users' stored quote is not their last acknowledged save.
async fn lost_writes(db: &TestDatabase, acknowledged: &[(String, Option<String>)]) -> usize {
    let stored = db.client().await;
    let mut lost = 0;
    for (user, last) in acknowledged {
        let row = stored
            .query_opt(
                "SELECT message FROM user_messages WHERE user_id = $1",
                &[user],
            )
            .await
            .unwrap();
        let message: Option<String> = row.map(|row| row.get(0));
        if message.as_ref() != last.as_ref() {
            lost += 1;
        }
    }
    lost
}

/// One caller: saves a new quote, reads it back, and again, until told to
/// stop; returns the user and the last save the API acknowledged.
async fn call(
    client: reqwest::Client,
    base: String,
    token: String,
    user: String,
    counts: Arc<Counts>,
    running: Arc<AtomicBool>,
) -> (String, Option<String>) {
    let mut acknowledged = None;
    let mut n = 0u64;
    while running.load(Ordering::SeqCst) {
        n += 1;
        let text = format!("Quote {n} of {user}");
        let saved = client
            .put(format!("{base}/me/quote"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "quote": text }))
            .send()
            .await;
        counts.requests.fetch_add(1, Ordering::SeqCst);
        match saved {
            Ok(response) if response.status().is_success() => {
                acknowledged = Some(text.clone());
            }
            Ok(response) => {
                eprintln!("PUT answered {}", response.status());
                counts.failures.fetch_add(1, Ordering::SeqCst);
            }
            Err(error) => {
                eprintln!("PUT failed: {error}");
                counts.failures.fetch_add(1, Ordering::SeqCst);
            }
        }
        let read = client
            .get(format!("{base}/me/quote"))
            .bearer_auth(&token)
            .send()
            .await;
        counts.requests.fetch_add(1, Ordering::SeqCst);
        match read {
            Ok(response) if response.status() == 200 => {}
            Ok(response) => {
                eprintln!("GET answered {}", response.status());
                counts.failures.fetch_add(1, Ordering::SeqCst);
            }
            Err(error) => {
                eprintln!("GET failed: {error}");
                counts.failures.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    (user, acknowledged)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_behind_a_load_balancer_fails_no_request_and_loses_no_write() {
    let key = TestKey::rsa();
    let idp = TestIdp::start(&[&key]);
    let db = TestDatabase::create().await;
    let ports = [free_port(), free_port(), free_port()];
    // The first replica migrates the schema; the others find it done.
    let mut replicas = Vec::new();
    for port in ports {
        replicas.push(start_replica(port, &db, &idp).await);
    }
    let (front, stats) = (free_port(), free_port());
    let config = TempPath::new("haproxy.cfg");
    let balancer = start_balancer(front, stats, &ports, &config);
    let base = format!("http://127.0.0.1:{front}");
    wait_until_ready(&format!("{base}/readyz"), Duration::from_secs(10)).await;
    let client = reqwest::Client::new();

    // A steady mix: each caller saves a new quote, then reads it back.
    let counts = Arc::new(Counts::default());
    let running = Arc::new(AtomicBool::new(true));
    let mut callers = Vec::new();
    for caller in 0..CALLERS {
        let user = format!("user_rolling_{caller}");
        let token = key.sign(&{
            let mut claims = idp.claims(&user);
            claims["exp"] = serde_json::json!(crate::helpers::now() + 600);
            claims
        });
        let (client, base, counts, running) = (
            client.clone(),
            base.clone(),
            counts.clone(),
            running.clone(),
        );
        callers.push(tokio::spawn(call(
            client, base, token, user, counts, running,
        )));
    }

    // Restart every replica in turn, each back before the next goes.
    let started = Instant::now();
    for index in 0..ports.len() {
        let replica = replicas.remove(0);
        let port = replica.port;
        stop_replica(replica).await;
        replicas.push(start_replica(port, &db, &idp).await);
        until_balancer_sees_up(&client, stats, index).await;
    }
    running.store(false, Ordering::SeqCst);
    let mut acknowledged = Vec::new();
    for caller in callers {
        acknowledged.push(caller.await.unwrap());
    }
    let requests = counts.requests.load(Ordering::SeqCst);
    let failures = counts.failures.load(Ordering::SeqCst);

    let lost = lost_writes(&db, &acknowledged).await;
    eprintln!(
        "rolling restart of {} replicas in {:.1?}: {requests} requests, {failures} failed, \
         {lost} acknowledged writes lost",
        ports.len(),
        started.elapsed()
    );
    drop(balancer);
    assert!(requests > 100, "the load was too light to tell: {requests}");
    assert_eq!(failures, 0, "requests failed during the rolling restart");
    assert_eq!(lost, 0, "acknowledged writes are missing");
}
