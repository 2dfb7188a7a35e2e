//! The load benchmark: `quotes-api` (release) on Postgres, driven by wrk
//! with Clerk-style RS256 tokens for many users, and `pgbench -S` on the same
//! machine in the same run, so every figure is also a ratio to what the
//! database itself can do.
//!
//! Run it with `cargo xtask bench`, which builds the release binary first.

#![expect(clippy::print_stdout, reason = "the report is this program's output")]

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpResponse, HttpServer, web};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

type Result<T = ()> = std::result::Result<T, String>;

/// Settings, from the environment.
struct Settings {
    api_bin: PathBuf,
    admin_url: String,
    users: usize,
    connections: usize,
    duration: Duration,
    /// `HTTP_WORKERS` of the measured server; its default when `None`.
    workers: Option<usize>,
    /// `DATABASE_POOL_SIZE` of the measured server; its default when `None`.
    pool_size: Option<usize>,
}

impl Settings {
    fn from_env() -> Result<Self> {
        let number = |name: &str, default: u64| -> Result<u64> {
            std::env::var(name).ok().map_or(Ok(default), |raw| {
                raw.parse().map_err(|_| format!("{name}: not a number"))
            })
        };
        let optional = |name: &str| -> Result<Option<usize>> {
            std::env::var(name).ok().map_or(Ok(None), |raw| {
                raw.parse()
                    .map(Some)
                    .map_err(|_| format!("{name}: not a number"))
            })
        };
        Ok(Self {
            api_bin: std::env::var_os("QUOTES_API_BIN")
                .map(PathBuf::from)
                .ok_or("QUOTES_API_BIN: the release quotes-api to measure")?,
            admin_url: std::env::var("QUOTES_TEST_ADMIN_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
            users: usize::try_from(number("BENCH_USERS", 1000)?).map_err(|e| e.to_string())?,
            connections: usize::try_from(number("BENCH_CONNECTIONS", 32)?)
                .map_err(|e| e.to_string())?,
            duration: Duration::from_secs(number("BENCH_SECONDS", 10)?),
            workers: optional("BENCH_WORKERS")?,
            pool_size: optional("BENCH_POOL_SIZE")?,
        })
    }
}

/// One wrk run.
#[derive(Debug, Clone, Copy)]
struct Load {
    requests: f64,
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    failed: u64,
    /// CPU time the API spent per request, in µs.
    api_cpu_us: f64,
}

const ISSUER: &str = "https://clerk.bench.example";
const PARTY: &str = "https://app.bench.example";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result {
    let settings = Settings::from_env()?;
    let key = EncodingKey::from_rsa_pem(include_bytes!("../../api/tests/api/keys/rsa-2048.pem"))
        .map_err(|e| e.to_string())?;
    let jwks_url = serve_jwks(&key)?;
    let database = Scratch::create(&settings.admin_url, "quotes_bench").await?;
    let mut env = vec![
        ("DATABASE_URL", database.url.clone()),
        ("AUTH_ISSUER", ISSUER.to_owned()),
        ("AUTH_JWKS_URL", jwks_url),
        ("AUTH_AUTHORIZED_PARTIES", PARTY.to_owned()),
        ("RUST_LOG", "warn".to_owned()),
        // The rate limit stays on, so its cost is in the figures, with a
        // quota this load never reaches: a thousand users as fast as wrk
        // can send are not the callers it is for.
        ("RATE_LIMIT_PER_MINUTE", "60000000".to_owned()),
        ("RATE_LIMIT_BURST", "1000000".to_owned()),
    ];
    // The API's own defaults unless asked otherwise: what a deployment gets.
    if let Some(workers) = settings.workers {
        env.push(("HTTP_WORKERS", workers.to_string()));
    }
    if let Some(size) = settings.pool_size {
        env.push(("DATABASE_POOL_SIZE", size.to_string()));
    }

    // The first start migrates; the measured start has nothing to migrate.
    let port = free_port()?;
    let first = Api::start(&settings.api_bin, port, &env)?;
    first.wait_ready(Duration::from_secs(30)).await?;
    drop(first);
    let api = Api::start(&settings.api_bin, port, &env)?;
    let start_to_ready = api.wait_ready(Duration::from_secs(30)).await?;

    let tokens = mint_tokens(&key, settings.users)?;
    let token_file =
        std::env::temp_dir().join(format!("quotes-bench-tokens-{}", std::process::id()));
    std::fs::write(&token_file, tokens.join("\n")).map_err(|e| e.to_string())?;
    seed(&api.base(), &tokens).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = api.memory("VmRSS")?;

    let get = api.measured(|| wrk(&settings, &api.base(), &token_file, "get"))?;
    let put = api.measured(|| wrk(&settings, &api.base(), &token_file, "put"))?;
    let mix = api.measured(|| wrk(&settings, &api.base(), &token_file, "mix"))?;
    let peak_rss = api.memory("VmHWM")?;
    // Nothing scraped metrics during the runs: what they left behind.
    let after_rss = api.memory("VmRSS")?;
    drop(api);
    let _ = std::fs::remove_file(&token_file);

    // The yardsticks: the API's own two statements straight from pgbench, on
    // the table the API just used, then the standard read-only `-S`.
    let users = format!("users={}", settings.users);
    let statement = |script: &str| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("pgbench")
            .join(script);
        let args = [
            OsStr::new("-f"),
            script.as_os_str(),
            OsStr::new("-D"),
            OsStr::new(&users),
        ];
        pgbench(&settings, &database.url, &args)
    };
    let select = statement("select.sql")?;
    let upsert = statement("upsert.sql")?;
    let select_only = pgbench_select_only(&settings).await?;
    report(
        &settings,
        start_to_ready,
        Memory {
            idle: idle_rss,
            peak: peak_rss,
            after: after_rss,
        },
        [get, put, mix],
        Yardsticks {
            select_only,
            select,
            upsert,
        },
    );
    database.drop_now().await;
    Ok(())
}

/// A JWKS endpoint on loopback serving the benchmark key.
fn serve_jwks(key: &EncodingKey) -> Result<String> {
    let mut jwk = serde_json::to_value(
        Jwk::from_encoding_key(key, Algorithm::RS256).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    jwk["kid"] = json!("ins_bench");
    jwk["use"] = json!("sig");
    let body = json!({ "keys": [jwk] }).to_string();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let server = HttpServer::new(move || {
        let body = body.clone();
        App::new().default_service(web::to(move || {
            let body = body.clone();
            async move {
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body(body)
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .map_err(|e| e.to_string())?
    .run();
    tokio::spawn(server);
    Ok(url)
}

/// Tokens shaped like Clerk's session tokens, with the API's scopes
/// (`iss sub iat nbf exp azp sid scope`): the API runs as with any OpenID
/// provider, where a token names the scopes it holds.
fn mint_tokens(key: &EncodingKey, users: usize) -> Result<Vec<String>> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("ins_bench".to_owned());
    (0..users)
        .map(|user| {
            let claims = json!({
                "iss": ISSUER,
                "sub": format!("user_2bench{user:020}"),
                "iat": now,
                "nbf": now - 10,
                "exp": now + 3600,
                "azp": PARTY,
                "sid": format!("sess_2bench{user:020}"),
                "scope": "quotes:read quotes:write",
            });
            jsonwebtoken::encode(&header, &claims, key).map_err(|e| e.to_string())
        })
        .collect()
}

/// One quote per user, so that GET always finds one.
async fn seed(base: &str, tokens: &[String]) -> Result {
    let client = reqwest::Client::new();
    for chunk in tokens.chunks(50) {
        let requests = chunk.iter().map(|token| {
            client
                .put(format!("{base}/me/quote"))
                .bearer_auth(token)
                .json(&json!({ "quote": "The benchmark's seed quote." }))
                .send()
        });
        for response in futures_util::future::join_all(requests).await {
            let status = response.map_err(|e| e.to_string())?.status();
            if !status.is_success() {
                return Err(format!("seeding answered {status}"));
            }
        }
    }
    Ok(())
}

fn wrk(settings: &Settings, base: &str, tokens: &PathBuf, mode: &str) -> Result<Load> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("wrk/quotes.lua");
    let output = Command::new("wrk")
        .args(["-t1", &format!("-c{}", settings.connections)])
        .arg(format!("-d{}s", settings.duration.as_secs()))
        .arg("-s")
        .arg(&script)
        .arg(format!("{base}/me/quote"))
        .env("TOKENS", tokens)
        .env("MODE", mode)
        .output()
        .map_err(|e| format!("cannot run wrk (apt-get install wrk): {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<f64> = text
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .ok_or_else(|| format!("wrk printed no result: {text}"))?
        .split_whitespace()
        .map(|field| field.parse().unwrap_or(f64::NAN))
        .collect();
    let [requests, micros, p50, p99, p999, failed] = fields[..] else {
        return Err(format!("unexpected wrk result: {text}"));
    };
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a count"
    )]
    Ok(Load {
        requests,
        requests_per_second: requests / (micros / 1e6),
        p50_ms: p50 / 1000.0,
        p99_ms: p99 / 1000.0,
        p999_ms: p999 / 1000.0,
        failed: failed as u64,
        api_cpu_us: f64::NAN,
    })
}

/// What the database itself does at the same client count.
#[derive(Debug, Clone, Copy)]
struct Yardsticks {
    /// `pgbench -S -M prepared`: the standard primary-key read.
    select_only: Pgbench,
    /// The API's `GET` statement, one user at a time.
    select: Pgbench,
    /// The API's `PUT` statement, one user at a time (a write that waits
    /// for its WAL flush).
    upsert: Pgbench,
}

/// One pgbench run: transactions per second and the 99th percentile of
/// their latencies.
#[derive(Debug, Clone, Copy)]
struct Pgbench {
    tps: f64,
    p99_ms: f64,
}

/// `pgbench -S -M prepared` at the same client count on a database of its
/// own: the database's own speed for primary-key reads on this machine,
/// right now.
async fn pgbench_select_only(settings: &Settings) -> Result<Pgbench> {
    let database = Scratch::create(&settings.admin_url, "quotes_pgbench").await?;
    let init = Command::new("pgbench")
        .args(["-i", "-q", "-s", "10", &database.url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run pgbench (it comes with PostgreSQL): {e}"))?;
    if !init.success() {
        return Err("pgbench -i failed".to_owned());
    }
    let tps = pgbench(settings, &database.url, &[OsStr::new("-S")]);
    database.drop_now().await;
    tps
}

/// One `pgbench -M prepared` run at the benchmark's client count: its tps,
/// and its p99 from the log of every transaction's latency.
fn pgbench(settings: &Settings, url: &str, args: &[&OsStr]) -> Result<Pgbench> {
    let logs = std::env::temp_dir().join(format!("quotes-bench-pgbench-{}", std::process::id()));
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    let output = Command::new("pgbench")
        .args(["-M", "prepared", "-j", "1", "-n", "-l"])
        .arg(format!("--log-prefix={}", logs.join("log").display()))
        .args(args)
        .arg(format!("-c{}", settings.connections))
        .arg(format!("-T{}", settings.duration.as_secs()))
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run pgbench (it comes with PostgreSQL): {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let tps = text
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .ok_or_else(|| {
            format!(
                "pgbench printed no tps: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    // Each line of a log: client, transaction, latency in µs, script,
    // epoch seconds, µs.
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(&logs).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let log = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        latencies.extend(
            log.lines()
                .filter_map(|line| line.split_whitespace().nth(2)?.parse::<u64>().ok()),
        );
    }
    let _ = std::fs::remove_dir_all(&logs);
    latencies.sort_unstable();
    let p99 = latencies
        .get(latencies.len() * 99 / 100)
        .ok_or("pgbench logged no transaction")?;
    #[expect(clippy::cast_precision_loss, reason = "latencies in ms for a report")]
    Ok(Pgbench {
        tps,
        p99_ms: *p99 as f64 / 1000.0,
    })
}

/// Resident memory of the API, in KiB.
#[derive(Debug, Clone, Copy)]
struct Memory {
    /// After seeding, before the runs.
    idle: u64,
    /// The most it ever held.
    peak: u64,
    /// After the runs, with nothing having scraped its metrics.
    after: u64,
}

#[expect(clippy::cast_precision_loss, reason = "memory in MiB for a report")]
fn report(
    settings: &Settings,
    ready: Duration,
    memory: Memory,
    loads: [Load; 3],
    yardsticks: Yardsticks,
) {
    let served: f64 = loads.iter().map(|load| load.requests).sum();
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!();
    println!(
        "quotes-api benchmark: {} users, {} connections, {} s per run, {} HTTP worker(s), \
         {} database connections",
        settings.users,
        settings.connections,
        settings.duration.as_secs(),
        settings
            .workers
            .map_or_else(|| "default".to_owned(), |n| n.to_string()),
        settings
            .pool_size
            .map_or_else(|| "default".to_owned(), |n| n.to_string()),
    );
    println!(
        "pgbench -M prepared, same clients: -S {:.0} tps (p99 {:.2} ms); the GET statement \
         {:.0} tps (p99 {:.2} ms); the PUT statement {:.0} tps (p99 {:.2} ms)",
        yardsticks.select_only.tps,
        yardsticks.select_only.p99_ms,
        yardsticks.select.tps,
        yardsticks.select.p99_ms,
        yardsticks.upsert.tps,
        yardsticks.upsert.p99_ms
    );
    println!();
    println!(
        "| run | req/s | ratio to pgbench -S | ratio to its own statement in pgbench | p50 ms | p99 ms | p99.9 ms | API CPU µs/request | failed |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let own = [
        yardsticks.select.tps,
        yardsticks.upsert.tps,
        // The mix's own statement mix, as a harmonic blend.
        1.0 / (0.9 / yardsticks.select.tps + 0.1 / yardsticks.upsert.tps),
    ];
    for ((name, load), own) in ["GET /me/quote", "PUT /me/quote", "90% GET, 10% PUT"]
        .iter()
        .zip(loads)
        .zip(own)
    {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {} |",
            load.requests_per_second,
            load.requests_per_second / yardsticks.select_only.tps,
            load.requests_per_second / own,
            load.p50_ms,
            load.p99_ms,
            load.p999_ms,
            load.api_cpu_us,
            load.failed
        );
    }
    println!();
    println!(
        "start to ready: {} ms; RSS idle {:.1} MiB, peak {:.1} MiB",
        ready.as_millis(),
        mib(memory.idle),
        mib(memory.peak)
    );
    println!(
        "RSS after {served:.0} requests with nothing scraping: {:.1} MiB ({:+.1} MiB since idle)",
        mib(memory.after),
        mib(memory.after) - mib(memory.idle)
    );
    let _ = std::io::stdout().flush();
}

/// A running `quotes-api`.
struct Api {
    child: Child,
    port: u16,
    started: Instant,
}

impl Api {
    fn start(bin: &PathBuf, port: u16, env: &[(&str, String)]) -> Result<Self> {
        let started = Instant::now();
        let child = Command::new(bin)
            .arg("serve")
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        Ok(Self {
            child,
            port,
            started,
        })
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Time from process start to the first `200` from `/readyz`.
    async fn wait_ready(&self, timeout: Duration) -> Result<Duration> {
        let client = reqwest::Client::new();
        while self.started.elapsed() < timeout {
            let ready = client
                .get(format!("{}/readyz", self.base()))
                .send()
                .await
                .is_ok_and(|response| response.status() == 200);
            if ready {
                return Ok(self.started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Err("quotes-api did not become ready".to_owned())
    }

    /// A memory figure from `/proc/PID/status`, in KiB.
    /// `load` run against the API, with the CPU time the API spent on it.
    fn measured(&self, load: impl FnOnce() -> Result<Load>) -> Result<Load> {
        let before = self.cpu_time()?;
        let mut load = load()?;
        let spent = self.cpu_time()?.saturating_sub(before);
        load.api_cpu_us = spent.as_secs_f64() * 1e6 / load.requests;
        Ok(load)
    }

    /// CPU time of all the API's threads so far, from the scheduler's
    /// nanosecond counts.
    fn cpu_time(&self) -> Result<Duration> {
        let tasks = format!("/proc/{}/task", self.child.id());
        let mut nanos: u64 = 0;
        for task in std::fs::read_dir(&tasks).map_err(|e| format!("{tasks}: {e}"))? {
            let path = task.map_err(|e| e.to_string())?.path().join("schedstat");
            // A thread that ended since the listing took its time with it.
            if let Ok(stat) = std::fs::read_to_string(&path) {
                nanos += stat
                    .split_whitespace()
                    .next()
                    .and_then(|on_cpu| on_cpu.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
        Ok(Duration::from_nanos(nanos))
    }

    fn memory(&self, field: &str) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .map_err(|e| e.to_string())?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{field}:")))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .ok_or_else(|| format!("no {field} in /proc status"))
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// A scratch database, dropped afterwards.
struct Scratch {
    admin_url: String,
    name: String,
    url: String,
}

impl Scratch {
    async fn create(admin_url: &str, prefix: &str) -> Result<Self> {
        let name = format!("{prefix}_{}", std::process::id());
        admin(
            admin_url,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE); CREATE DATABASE {name}"),
        )
        .await?;
        let server = admin_url
            .rsplit_once('/')
            .map_or(admin_url, |(server, _)| server);
        Ok(Self {
            admin_url: admin_url.to_owned(),
            url: format!("{server}/{name}"),
            name,
        })
    }

    async fn drop_now(&self) {
        let _ = admin(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        )
        .await;
    }
}

async fn admin(url: &str, sql: &str) -> Result {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    tokio::spawn(connection);
    for statement in sql.split(';') {
        client
            .batch_execute(statement)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| e.to_string())
}
