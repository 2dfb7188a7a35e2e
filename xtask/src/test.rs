//! `cargo xtask test`: every check and test the project has, in order,
//! stopping at the first failure; it ends with a table of each step's time
//! and the tally of tests passed and failed.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::paths::target_dir;
use crate::python::PythonTools;
use crate::report::{Result, Tally, count, print_step_times, step};
use crate::tools::installed;
use crate::{
    bench, browser, containers, fuzz, lint, openapi, postgres, private_cluster, release,
    typescript, walkthrough, web,
};

pub fn run() -> Result {
    pipeline().inspect_err(|_| print_step_times())
}

fn pipeline() -> Result {
    if std::env::var_os("QUOTES_TEST_ADMIN_URL").is_none()
        && !postgres::is_reachable(&postgres::admin_url())
    {
        return on_private_cluster();
    }
    let started = Instant::now();
    let mut tally = Tally::default();
    postgres::check_reachable(&postgres::admin_url())?;
    lint::steps(&mut tally)?;
    let parts = step(
        "HAProxy and PgBouncer (for the rolling-restart and pooler tests)",
        ServiceParts::install,
    )?;
    step("Rust tests", || {
        cargo_test(&["--workspace"], &parts, &[], Count::Tests, &mut tally)
    })?;
    step(
        "a private Postgres cluster (cargo xtask run with no server to hand)",
        || private_cluster::check(&mut tally),
    )?;
    step(
        "the API's tests again, through PgBouncer in transaction mode",
        || {
            cargo_test(
                // `--workspace`, as the step before: the same features, so
                // nothing is built again. Every test of `api` serves the API
                // through its test database; those that do not are in
                // `standalone` and would not go through PgBouncer.
                &["--workspace", "--test", "api"],
                &parts,
                &[("QUOTES_TEST_THROUGH_PGBOUNCER", "1")],
                Count::AgainThroughPgBouncer,
                &mut tally,
            )
        },
    )?;
    step("web app unit tests", || web::test(&mut tally))?;
    let python = step("Python tools", PythonTools::install)?;
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
    browser::steps(&mut tally)?;
    step("fuzzing", || fuzz::run(&mut tally))?;
    step("benchmark pipeline (short, debug build)", || {
        bench::smoke(&mut tally)
    })?;
    step(
        "a release build has no development identity provider",
        || release::check(&mut tally),
    )?;
    step("the documentation's walkthrough", || {
        walkthrough::run(&mut tally)
    })?;
    print_step_times();
    println!("\nxtask: every check passed in {:.0?}", started.elapsed());
    tally.print();
    Ok(())
}

/// `test` with no Postgres to hand: the private cluster `run` uses, and
/// every check in a process of its own whose `QUOTES_TEST_ADMIN_URL`
/// (which every check and test reads) names it.
fn on_private_cluster() -> Result {
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

/// What a run of `cargo test` counts as, in the tally.
#[derive(Debug, Clone, Copy)]
enum Count {
    Tests,
    AgainThroughPgBouncer,
}

/// Debian's `haproxy`, the real load balancer the replicas test puts in
/// front of three API processes, and `pgbouncer`, the real
/// transaction-mode pooler; installed with apt when missing and we may.
struct ServiceParts {
    haproxy: PathBuf,
    pgbouncer: PathBuf,
}

impl ServiceParts {
    fn install() -> Result<Self> {
        let haproxy = installed("HAPROXY", &["/usr/sbin/haproxy"], "haproxy").ok_or_else(|| {
            "the rolling-restart test needs HAProxy: install it (`apt-get install haproxy`) \
             or set HAPROXY to an haproxy executable"
                .to_owned()
        })?;
        let pgbouncer =
            installed("PGBOUNCER", &["/usr/sbin/pgbouncer"], "pgbouncer").ok_or_else(|| {
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
    counted_as: Count,
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
            let passed = count(summary, "passed");
            match counted_as {
                Count::Tests => tally.tests += passed,
                Count::AgainThroughPgBouncer => tally.again_through_pgbouncer += passed,
            }
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
