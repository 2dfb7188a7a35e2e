//! `cargo xtask`: the project's tasks, with nothing beyond cargo needed to
//! start them.
//!
//! - `cargo xtask run`: the whole system on this machine.
//! - `cargo xtask test`: every check and test the project has.
//! - `cargo xtask bench`: the load benchmark.
//! - `cargo xtask web`: the single-page app's static bundle, in `web/dist/`.
//! - `cargo xtask containers`: only the container files' checks (part of
//!   `test`; no Docker engine needed).
//! - `cargo xtask browser`: only the checks in Chromium (part of `test`).

#![expect(
    clippy::print_stdout,
    reason = "reporting progress is what this tool does"
)]

mod assets;
mod bench;
mod browser;
mod containers;
mod deny;
mod fuzz;
mod layers;
mod openapi;
mod postgres;
mod python;
mod server;
mod typescript;
mod walkthrough;
mod web;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    let result = match task.as_deref() {
        Some("run") => run(),
        Some("test") => test().inspect_err(|_| print_step_times()),
        Some("bench") => bench::run(),
        Some("web") => web::build().map(drop),
        Some("browser") => browser_checks(),
        Some("containers") => containers::run(),
        Some(other) => Err(format!(
            "unknown task `{other}`; the tasks are run, test, bench, web, containers and browser"
        )),
        None => {
            Err("usage: cargo xtask run | test | bench | web | containers | browser".to_owned())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

/// Where the API listens unless `BIND_ADDR` says otherwise.
const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8080";

/// Builds and starts the API with the development identity provider,
/// against `DATABASE_URL`, the local Postgres or a private cluster
/// (creating the database).
fn run() -> Result {
    // DATABASE_URL wins; else the local server; else a private cluster in
    // target/postgres, stopped when this ends.
    let named = std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty());
    let (database_url, _cluster) = if let Some(url) = named {
        postgres::check_reachable(&url)?;
        (url, None)
    } else {
        let server =
            postgres::Server::find(None, postgres::LOCAL_SERVER, &target_dir().join("postgres"))?;
        let url = postgres::with_database(&server.admin_url, "quotes");
        (url, Some(server))
    };
    let bind_addr = std::env::var("BIND_ADDR").unwrap_or_else(|_| DEFAULT_BIND_ADDR.to_owned());

    println!("==> building the web app");
    // The API is useful without the app: a machine that cannot build it
    // still gets the API, with the reason printed.
    let dist = web::build()
        .inspect_err(|e| println!("warning: serving the API without the web app: {e}"))
        .ok();
    println!("==> building the API");
    cargo(&["build", "--package", "quotes-api"])?;
    println!("==> migrating the database");
    api_command(&["migrate", "--create-database"], &database_url, &bind_addr)
        .status()
        .map_err(|e| format!("cannot start quotes-api: {e}"))?
        .success()
        .then_some(())
        .ok_or("migrating failed (see above)")?;

    println!("==> starting quotes at http://{bind_addr}");
    if dist.is_some() {
        println!("    open http://{bind_addr}/ and sign in with any user name");
    }
    println!("    for curl: TOKEN=$(cargo run -q -p quotes-api -- dev-token alice)");
    let dist = dist.map(|dist| dist.to_string_lossy().into_owned());
    let mut args = vec!["serve", "--dev-idp"];
    if let Some(dist) = &dist {
        args.extend(["--web-dir", dist.as_str()]);
    }
    // Ctrl-C stops the API (it gets the signal too); this process lives on
    // to stop a private cluster after it. (A cluster left running by a
    // build cut short is stopped by the next run.)
    ctrlc::set_handler(|| {}).map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
    let status = api_command(&args, &database_url, &bind_addr)
        .status()
        .map_err(|e| format!("cannot start quotes-api: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("quotes-api stopped: {status}"))
    }
}

fn api_command(args: &[&str], database_url: &str, bind_addr: &str) -> Command {
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["run", "--quiet", "--package", "quotes-api", "--"])
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("BIND_ADDR", bind_addr);
    command
}

/// Only the checks in Chromium, for working on the app; `cargo xtask test`
/// runs them too.
fn browser_checks() -> Result {
    let mut tally = Tally::default();
    postgres::check_reachable(&postgres::admin_url())?;
    browser_steps(&mut tally)?;
    println!("tests: {} passed, {} failed", tally.passed, tally.failed);
    Ok(())
}

/// Swagger UI, the web app's component tests and the web app end to end,
/// in Chromium.
fn browser_steps(tally: &mut Tally) -> Result {
    let chromium = step("Chromium", browser::chromium)?;
    step("Swagger UI in Chromium", || {
        browser::swagger_ui(&chromium, tally)
    })?;
    step("web app component tests in Chromium", || {
        web::component_tests(tally)
    })?;
    step("the web app in Chromium", || {
        browser::web_app(&chromium, tally)
    })
}

/// Totals of the test runners' summaries.
#[derive(Debug, Default)]
struct Tally {
    passed: u64,
    failed: u64,
}

fn test() -> Result {
    if std::env::var_os("QUOTES_TEST_ADMIN_URL").is_none()
        && !postgres::is_reachable(&postgres::admin_url())
    {
        return test_on_private_cluster();
    }
    let started = Instant::now();
    let mut tally = Tally::default();
    postgres::check_reachable(&postgres::admin_url())?;
    step("formatting", || {
        cargo(&["fmt", "--all", "--", "--check"])?;
        cargo(&["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"])?;
        cargo(&["fmt", "--manifest-path", "web/Cargo.toml", "--", "--check"])
    })?;
    step("lints", || {
        cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])?;
        web::lint()
    })?;
    step("layers of the API (no upward imports, no cycles)", || {
        layers::check(&mut tally)
    })?;
    step("supply chain (cargo deny)", || deny::check(&mut tally))?;
    let parts = step(
        "HAProxy and PgBouncer (for the rolling-restart and pooler tests)",
        ServiceParts::install,
    )?;
    step("Rust tests", || {
        cargo_test(&["--workspace"], &parts, &[], &mut tally)
    })?;
    step(
        "a private Postgres cluster (cargo xtask run with no server to hand)",
        || postgres::check_private_cluster(&mut tally),
    )?;
    step(
        "the API's database tests through PgBouncer in transaction mode",
        || {
            cargo_test(
                // `--workspace`, as the step before: the same features, so
                // nothing is built again.
                &["--workspace", "--test", "api", "--"]
                    .into_iter()
                    .chain(THROUGH_POOLER.iter().copied())
                    .collect::<Vec<_>>(),
                &parts,
                &[("QUOTES_TEST_THROUGH_PGBOUNCER", "1")],
                &mut tally,
            )
        },
    )?;
    step("web app unit tests", || web::test(&mut tally))?;
    let python = step("Python tools", python::PythonTools::install)?;
    step("container files", || containers::check(&python, &mut tally))?;
    step("OpenAPI document is valid", || {
        openapi::validate(&python, &mut tally)
    })?;
    step("schemathesis against a live server", || {
        openapi::schemathesis(&python, &mut tally)
    })?;
    step("a generated Python client", || {
        openapi::python_client(&python, &mut tally)
    })?;
    step("OpenAPI lint (Redocly)", || typescript::lint(&mut tally))?;
    step("a generated TypeScript client", || {
        typescript::client(&mut tally)
    })?;
    browser_steps(&mut tally)?;
    step("fuzzing", || fuzz::run(&mut tally))?;
    step("benchmark pipeline (short, debug build)", || {
        bench::smoke(&mut tally)
    })?;
    step("README walkthrough", || walkthrough::run(&mut tally))?;
    print_step_times();
    println!("\nxtask: every check passed in {:.0?}", started.elapsed());
    println!("tests: {} passed, {} failed", tally.passed, tally.failed);
    Ok(())
}

/// Each step's name and how long it took, for the table `test` ends with.
static STEP_TIMES: Mutex<Vec<(String, Duration)>> = Mutex::new(Vec::new());

/// `test` with no Postgres to hand: a private cluster in target/postgres,
/// and every check in a process of its own whose `QUOTES_TEST_ADMIN_URL`
/// (which every check and test reads) names it.
fn test_on_private_cluster() -> Result {
    let server =
        postgres::Server::find(None, postgres::LOCAL_SERVER, &target_dir().join("postgres"))?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let status = Command::new(exe)
        .arg("test")
        .env("QUOTES_TEST_ADMIN_URL", &server.admin_url)
        .status()
        .map_err(|e| format!("cannot run the checks: {e}"))?;
    drop(server);
    if status.success() {
        Ok(())
    } else {
        Err("the checks failed (see above)".to_owned())
    }
}

fn step<T>(name: &str, run: impl FnOnce() -> Result<T>) -> Result<T> {
    println!("\n==> {name}");
    let started = Instant::now();
    let result = run().map_err(|e| format!("{name} failed: {e}"));
    if let Ok(mut times) = STEP_TIMES.lock() {
        times.push((name.to_owned(), started.elapsed()));
    }
    result
}

/// The steps run so far with their times, slowest marked, as a table a
/// person can read at the end of a long run.
fn print_step_times() {
    let Ok(times) = STEP_TIMES.lock() else {
        return;
    };
    if times.is_empty() {
        return;
    }
    let width = times.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    println!("\n{:<width$}  {:>8}", "step", "time");
    for (name, took) in times.iter() {
        let secs = took.as_secs();
        println!("{name:<width$}  {:>4}m{:02}s", secs / 60, secs % 60);
    }
}

/// The repository's root folder.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// Where cargo builds.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// Cargo's own folder (`CARGO_HOME`, else `~/.cargo`): its installed
/// tools and its registry's sources.
fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
}

/// `binary` of exactly `version` (as its `--version` prints it), from PATH
/// or cargo's bin folder, else installed with `cargo install` and `args`
/// (the package, its version and any flags).
pub fn cargo_tool(binary: &str, version: &str, args: &[&str]) -> Result<PathBuf> {
    let installed = cargo_home().map(|home| home.join("bin").join(binary));
    let candidates = [Some(PathBuf::from(binary)), installed];
    let wanted = format!("{binary} {version}");
    let matching = |path: &PathBuf| {
        Command::new(path)
            .arg("--version")
            .output()
            .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == wanted)
    };
    let found = || {
        candidates
            .iter()
            .flatten()
            .find(|path| matching(path))
            .cloned()
    };
    if let Some(found) = found() {
        return Ok(found);
    }
    println!("installing {} (once; a few minutes)", args.join(" "));
    run_checked(
        Command::new(env!("CARGO")).arg("install").args(args),
        &format!("cargo install {}", args.join(" ")),
    )?;
    found().ok_or_else(|| format!("{wanted} was installed but is not on PATH"))
}

/// `npm ci` in `folder`, from its lock file, once: nothing happens while
/// every path of `installed` (inside the folder) is there. `what` is
/// what gets installed, `how_long` about how long it takes.
pub fn npm_ci(
    folder: &Path,
    installed: &[&str],
    (what, how_long): (&str, &str),
    env: &[(&str, &str)],
) -> Result {
    if installed.iter().all(|path| folder.join(path).exists()) {
        return Ok(());
    }
    println!("installing {what} with npm (once; {how_long})");
    run_checked(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(folder)
            .envs(env.iter().copied()),
        &format!(
            "npm ci in {} (Node.js 20 or newer is needed)",
            folder.strip_prefix(root()).unwrap_or(folder).display()
        ),
    )
}

/// Whether this runs as root (then it may install with apt).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

/// Runs `command`, failing with `what` when it fails.
pub fn run_checked(command: &mut Command, what: &str) -> Result {
    let status = command
        .status()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

fn cargo(args: &[&str]) -> Result {
    let status = Command::new(env!("CARGO"))
        .args(args)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` exited with {status}", args.join(" ")))
    }
}

/// The API's integration tests, run a second time with PgBouncer in
/// transaction mode in front of each test's database, but for those that
/// start `quotes-api` processes of their own (which the first run covers).
const THROUGH_POOLER: &[&str] = &["--skip", "replicas::", "--skip", "startup::"];

/// Debian's `haproxy`, the real load balancer the replicas test puts in
/// front of three API processes, and `pgbouncer`, the real
/// transaction-mode pooler; installed with apt when missing and we may.
struct ServiceParts {
    haproxy: PathBuf,
    pgbouncer: PathBuf,
}

impl ServiceParts {
    fn install() -> Result<Self> {
        let haproxy =
            browser::installed("HAPROXY", &["/usr/sbin/haproxy"], "haproxy").ok_or_else(|| {
                "the rolling-restart test needs HAProxy: install it (`apt-get install haproxy`) \
                 or set HAPROXY to an haproxy executable"
                    .to_owned()
            })?;
        let pgbouncer = browser::installed("PGBOUNCER", &["/usr/sbin/pgbouncer"], "pgbouncer")
            .ok_or_else(|| {
                "the pooler tests need PgBouncer: install it (`apt-get install pgbouncer`) \
                 or set PGBOUNCER to a pgbouncer executable"
                    .to_owned()
            })?;
        Ok(Self { haproxy, pgbouncer })
    }
}

/// Runs `cargo test` with `args`, echoing its output and adding up its
/// summaries.
fn cargo_test(
    args: &[&str],
    parts: &ServiceParts,
    env: &[(&str, &str)],
    tally: &mut Tally,
) -> Result {
    let mut child = Command::new(env!("CARGO"))
        .args(["test", "--color", "never"])
        .args(args)
        .env("HAPROXY", &parts.haproxy)
        .env("PGBOUNCER", &parts.pgbouncer)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if let Some(summary) = line.strip_prefix("test result: ") {
            tally.passed += count(summary, "passed");
            tally.failed += count(summary, "failed");
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} tests failed", tally.failed.max(1)))
    }
}

/// The number before `label` in a summary such as `ok. 12 passed; 0 failed`.
fn count(summary: &str, label: &str) -> u64 {
    summary
        .split(['.', ';'])
        .filter_map(|part| part.trim().strip_suffix(label))
        .find_map(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn summaries_are_counted() {
        let summary =
            "ok. 59 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 9.70s";
        assert_eq!(count(summary, "passed"), 59);
        assert_eq!(count(summary, "failed"), 0);
        assert_eq!(count("FAILED. 3 passed; 2 failed; 0 ignored", "failed"), 2);
    }
}
