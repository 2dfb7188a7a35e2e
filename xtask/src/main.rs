//! `cargo xtask`: the project's tasks, with nothing beyond cargo needed to
//! start them. This file only picks the task; each task is a module of its
//! own, over helpers that import no task.
//!
//! - `cargo xtask run`: the whole system on this machine.
//! - `cargo xtask test`: every check and test the project has.
//! - `cargo xtask lint`: only the static checks (the first steps of `test`).
//! - `cargo xtask bench`: the load benchmark.
//! - `cargo xtask web`: the single-page app's static bundle, in `web/dist/`.
//! - `cargo xtask containers`: only the container files' checks (part of
//!   `test`; no Docker engine needed).
//! - `cargo xtask browser`: only the checks in Chromium (part of `test`).
//! - `cargo xtask layers`: only the module-layers check (part of `lint`).
//! - `cargo xtask screenshots`: the documentation's pictures, from the
//!   browser checks' last run.

#![expect(
    clippy::print_stdout,
    reason = "reporting progress is what this tool does"
)]

// The tasks, and the checks `test` runs.
mod bench;
mod browser;
mod containers;
mod deny;
mod fuzz;
mod layers;
mod links;
mod lint;
mod openapi;
mod private_cluster;
mod release;
mod run;
mod screenshots;
mod test;
mod typescript;
mod walkthrough;
mod web;

// Helpers the tasks share; none imports a task.
mod assets;
mod net;
mod paths;
mod postgres;
mod process;
mod python;
mod report;
mod server;
mod tools;

use std::process::ExitCode;

use report::Tally;

const USAGE: &str = "usage: cargo xtask run | test | lint | bench | web | containers | browser | layers | screenshots";

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    let result = match task.as_deref() {
        Some("run") => run::run(),
        Some("test") => test::run(),
        Some("lint") => lint::run(),
        Some("bench") => bench::run(),
        Some("web") => web::build().map(drop),
        Some("containers") => containers::run(),
        Some("browser") => browser::run(),
        Some("layers") => layers::check(&mut Tally::default()),
        Some("screenshots") => screenshots::run(),
        Some(other) => Err(format!(
            "unknown task `{other}`; the tasks are run, test, lint, bench, web, containers, \
             browser, layers and screenshots"
        )),
        None => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
