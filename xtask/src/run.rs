//! `cargo xtask run`: the whole system on this machine: the web app, the
//! API with its development identity provider, and a database, until it
//! is stopped.
//!
//! However it is stopped (Ctrl-C, an editor's stop button or a process
//! manager's SIGTERM, SIGINT to this process alone, a closed terminal's
//! SIGHUP), what it started stops with it: the server first, then a
//! private cluster; then it exits with a failure status. The server runs
//! in a process group of its own, so that the signal reaches it through
//! this process only, once, and this process outlives it to stop the
//! cluster.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};

use crate::paths::target_dir;
use crate::postgres;
use crate::process::{Process, cargo, signal, signal_group};
use crate::report::Result;
use crate::web;

/// Where the API listens unless `BIND_ADDR` says otherwise.
const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8080";

/// Builds and starts the API with the development identity provider,
/// against `DATABASE_URL`, the local Postgres or a private cluster
/// (creating the database).
pub fn run() -> Result {
    let stop = Stop::install()?;
    // DATABASE_URL wins; else the local server; else a private cluster
    // (kept between runs, see `postgres`), stopped when this ends.
    let named = std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty());
    let (database_url, _cluster) = if let Some(url) = named {
        postgres::check_reachable(&url)?;
        (url, None)
    } else {
        let server = stop.after(postgres::Server::find(
            None,
            postgres::LOCAL_SERVER,
            &target_dir().join("postgres"),
        ))?;
        let url = postgres::with_database(&server.admin_url, "quotes");
        (url, Some(server))
    };
    let bind_addr = std::env::var("BIND_ADDR").unwrap_or_else(|_| DEFAULT_BIND_ADDR.to_owned());

    println!("==> building the web app");
    // The API is useful without the app: a machine that cannot build it
    // still gets the API, with the reason printed.
    let dist = web::build();
    stop.check()?;
    let dist = dist
        .inspect_err(|e| println!("warning: serving the API without the web app: {e}"))
        .ok();
    println!("==> building the API");
    stop.after(cargo(&[
        "build",
        "--package",
        "quotes-api",
        "--features",
        "dev-idp",
    ]))?;
    println!("==> migrating the database");
    let migrated = api_command(&["migrate", "--create-database"], &database_url, &bind_addr)
        .status()
        .map_err(|e| format!("cannot start quotes-api: {e}"));
    stop.after(migrated)?
        .success()
        .then_some(())
        .ok_or("migrating failed (see above)")?;

    println!("==> starting quotes at http://{bind_addr}");
    if dist.is_some() {
        println!("    open http://{bind_addr}/ and sign in with any user name");
    }
    println!(
        "    for curl: TOKEN=$(cargo run -q -p quotes-api --features dev-idp -- dev-token alice)"
    );
    let dist = dist.map(|dist| dist.to_string_lossy().into_owned());
    let mut args = vec!["serve", "--dev-idp"];
    if let Some(dist) = &dist {
        args.extend(["--web-dir", dist.as_str()]);
    }
    let mut server = api_command(&args, &database_url, &bind_addr)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start quotes-api: {e}"))?;
    stop.watch(server.id());
    let status = server.wait();
    stop.forget();
    let status = stop.after(status.map_err(|e| format!("waiting for quotes-api: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("quotes-api stopped: {status}"))
    }
}

fn api_command(args: &[&str], database_url: &str, bind_addr: &str) -> Command {
    let mut command = Command::new(env!("CARGO"));
    command
        .args([
            "run",
            "--quiet",
            "--package",
            "quotes-api",
            "--features",
            "dev-idp",
            "--",
        ])
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("BIND_ADDR", bind_addr);
    command
}

/// What a stop signal (SIGINT, SIGTERM, SIGHUP) does to `run`: while the
/// server runs, SIGTERM to its group; before, SIGTERM to the build or the
/// migration under way, and `run` ends at the next step. Either way `run`
/// returns, and what it holds (a private cluster) is dropped in order.
#[derive(Debug, Default, Clone)]
struct Stop {
    state: Arc<Mutex<StopState>>,
}

#[derive(Debug, Default)]
struct StopState {
    /// A stop signal came.
    requested: bool,
    /// The server's process group, while it runs.
    server: Option<u32>,
}

impl Stop {
    fn install() -> Result<Self> {
        let stop = Self::default();
        let handler = stop.clone();
        ctrlc::set_handler(move || handler.requested())
            .map_err(|e| format!("cannot handle stop signals: {e}"))?;
        Ok(stop)
    }

    /// A signal came: forwarded to what runs now. A second one is
    /// forwarded too; the server then stops at once.
    fn requested(&self) {
        let mut state = self.lock();
        state.requested = true;
        if let Some(group) = state.server {
            signal_group(group, "TERM");
        } else {
            for child in Process::children(std::process::id()) {
                signal(child.pid, "TERM");
            }
        }
    }

    /// From now on a signal goes to the server's group (led by `server`),
    /// at once if one came already.
    fn watch(&self, server: u32) {
        let mut state = self.lock();
        state.server = Some(server);
        if state.requested {
            signal_group(server, "TERM");
        }
    }

    /// The server has been waited for: its process id is no longer its.
    fn forget(&self) {
        self.lock().server = None;
    }

    /// `result`, unless a stop signal came: then the stop, which is what
    /// failed it or what ends `run` before its next step.
    fn after<T>(&self, result: Result<T>) -> Result<T> {
        if self.lock().requested {
            Err("stopped by a signal".to_owned())
        } else {
            result
        }
    }

    /// Fails with the stop if a stop signal came.
    fn check(&self) -> Result {
        self.after(Ok(()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StopState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
