//! Three `quotes-api` processes behind a real load balancer (Debian's
//! `haproxy`, health-checking `/readyz`), one Postgres, a steady mix of
//! reads and writes, and every replica restarted in turn, as a rolling
//! deploy does: no request fails, and every acknowledged write is stored.
//!
//! Each replica binds a port the system chooses (port 0), a restarted one
//! too; the balancer learns its new address through the runtime API of
//! `haproxy`,
//! as a service registry would tell it.
//!
//! `haproxy` is found at `HAPROXY` or `/usr/sbin/haproxy`; `cargo xtask test`
//! installs it (`apt-get install haproxy`) before the Rust tests.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::helpers::{
    ApiProcess, KillOnDrop, Service, TempPath, TestDatabase, TestIdp, TestKey, api_binary,
    free_port, start_server, terminate, wait_until_ready,
};

/// Concurrent callers, each a user of their own.
const CALLERS: usize = 8;

/// A replica: the real binary, draining `drain` seconds on SIGTERM.
async fn start_replica(drain: &str, db: &TestDatabase, idp: &TestIdp) -> ApiProcess {
    start_server(
        &db.url(),
        idp,
        api_binary()
            .env("DATABASE_POOL_SIZE", "2")
            .env("SHUTDOWN_DRAIN_SECS", drain)
            // Eight callers as fast as they can go: the subject is the
            // restart, not each caller's share.
            .env("RATE_LIMIT_PER_MINUTE", "off"),
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
/// `/readyz` answers 200, checked every 200 ms; its view of them as CSV on
/// `stats`, and its runtime API on `socket`. It never retries a request on
/// another replica (`retries 0`), as many balancers do not: what a restart
/// does to requests shows.
struct Balancer {
    front: u16,
    stats: u16,
    socket: TempPath,
    _config: TempPath,
    _process: KillOnDrop,
}

impl Balancer {
    /// Starts it on free ports; should another process take one of them
    /// first, `haproxy` cannot bind and exits, and it starts again on others.
    async fn start(ports: &[u16]) -> Self {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (front, stats) = (free_port(), free_port());
            let socket = TempPath::new("haproxy.sock");
            let config = TempPath::new("haproxy.cfg");
            let mut servers = String::new();
            for (i, port) in ports.iter().enumerate() {
                let _ = writeln!(servers, "    server api{i} 127.0.0.1:{port} check");
            }
            std::fs::write(
                &config.0,
                format!(
                    "global\n    maxconn 256\n    stats socket {socket} level admin\n\
                     defaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n    \
                     timeout server 10s\n    retries 0\n\
                     listen stats\n    bind 127.0.0.1:{stats}\n    stats enable\n    stats uri /stats\n\
                     frontend quotes\n    bind 127.0.0.1:{front}\n    default_backend api\n\
                     backend api\n    balance roundrobin\n    option httpchk GET /readyz\n    \
                     http-check expect status 200\n    \
                     default-server inter 200ms fastinter 100ms downinter 200ms fall 1 rise 1\n\
                     {servers}",
                    socket = socket.0.display(),
                ),
            )
            .unwrap();
            let mut process = Service::new("HAPROXY", "/usr/sbin/haproxy", "haproxy").spawn([
                OsStr::new("-db"),
                OsStr::new("-f"),
                config.0.as_os_str(),
            ]);
            // Listening on both ports, or gone.
            loop {
                if process.0.try_wait().unwrap().is_some() {
                    break;
                }
                let listening = [front, stats]
                    .iter()
                    .all(|port| std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok());
                if listening && socket.0.exists() {
                    return Self {
                        front,
                        stats,
                        socket,
                        _config: config,
                        _process: process,
                    };
                }
                assert!(Instant::now() < deadline, "HAProxy never started");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    /// Points replica `index` at `port`, through the runtime API.
    fn move_replica(&self, index: usize, port: u16) {
        use std::io::{Read, Write};
        let mut api = std::os::unix::net::UnixStream::connect(&self.socket.0).unwrap();
        writeln!(api, "set server api/api{index} addr 127.0.0.1 port {port}").unwrap();
        let mut answer = String::new();
        api.read_to_string(&mut answer).unwrap();
        assert!(answer.contains("changed"), "HAProxy: {answer}");
    }
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

/// What a rolling restart cost the callers.
struct Outcome {
    requests: u64,
    failures: u64,
    lost: usize,
}

/// Three replicas draining `drain` seconds on SIGTERM, each restarted in
/// turn under a steady mix of saves and reads.
async fn rolling_restart(drain: &str) -> Outcome {
    let key = TestKey::rsa();
    let idp = TestIdp::start(&[&key]);
    let db = TestDatabase::create().await;
    // The first replica migrates the schema; the others find it done.
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(start_replica(drain, &db, &idp).await);
    }
    let ports: Vec<u16> = replicas.iter().map(|replica| replica.port).collect();
    let balancer = Balancer::start(&ports).await;
    let base = format!("http://127.0.0.1:{}", balancer.front);
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
        stop_replica(replica).await;
        let restarted = start_replica(drain, &db, &idp).await;
        balancer.move_replica(index, restarted.port);
        replicas.push(restarted);
        until_balancer_sees_up(&client, balancer.stats, index).await;
    }
    running.store(false, Ordering::SeqCst);
    let mut acknowledged = Vec::new();
    for caller in callers {
        acknowledged.push(caller.await.unwrap());
    }
    let outcome = Outcome {
        requests: counts.requests.load(Ordering::SeqCst),
        failures: counts.failures.load(Ordering::SeqCst),
        lost: lost_writes(&db, &acknowledged).await,
    };
    eprintln!(
        "rolling restart of {} replicas draining {drain} s, in {:.1?}: {} requests, {} failed, \
         {} acknowledged writes lost",
        ports.len(),
        started.elapsed(),
        outcome.requests,
        outcome.failures,
        outcome.lost
    );
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_behind_a_load_balancer_fails_no_request_and_loses_no_write() {
    // A drain longer than the balancer takes to see /readyz fail (200 ms).
    let outcome = rolling_restart("1").await;
    assert!(
        outcome.requests > 100,
        "the load was too light to tell: {}",
        outcome.requests
    );
    assert_eq!(
        outcome.failures, 0,
        "requests failed during the rolling restart"
    );
    assert_eq!(outcome.lost, 0, "acknowledged writes are missing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_drain_the_same_restart_fails_requests() {
    let outcome = rolling_restart("0").await;
    assert!(outcome.requests > 100, "{}", outcome.requests);
    assert!(outcome.failures > 0, "no request failed without a drain");
    // Failed, not lost: what was acknowledged is stored.
    assert_eq!(outcome.lost, 0);
}
