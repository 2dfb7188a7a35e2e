//! How tasks report: a failure as one message for people, the tally of
//! tests passed and failed, and the steps of a long run with their times.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A task's result: its failure is a message for the person running it,
/// printed once by `main`.
pub type Result<T = ()> = std::result::Result<T, String>;

/// What passed, by kind, so that runs can be compared: each number means
/// one thing.
#[derive(Debug, Default)]
pub struct Tally {
    /// Test functions that passed: Rust's on the host, and the web app's
    /// unit and component tests.
    pub tests: u64,
    /// Of those, the API's, passed a second time with PgBouncer in front of
    /// their database.
    pub again_through_pgbouncer: u64,
    /// Checks the browser scripts, the generated clients and the README
    /// examples count and report.
    pub checks: u64,
    /// Steps that pass or fail as a whole: a validator, a linter, a fuzz
    /// run, a container file.
    pub steps: u64,
    /// Anything that failed.
    pub failed: u64,
}

impl Tally {
    /// The line a task that runs tests ends with.
    pub fn print(&self) {
        println!(
            "tests: {} tests, {} of them again through PgBouncer, {} browser, client and \
             example checks, {} steps; {} failed",
            self.tests, self.again_through_pgbouncer, self.checks, self.steps, self.failed
        );
    }
}

/// The number before `label` in a summary such as `ok. 12 passed; 0 failed`.
pub fn count(summary: &str, label: &str) -> u64 {
    summary
        .split(['.', ';'])
        .filter_map(|part| part.trim().strip_suffix(label))
        .find_map(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Each step's name and how long it took, for the table `test` ends with.
static STEP_TIMES: Mutex<Vec<(String, Duration)>> = Mutex::new(Vec::new());

/// Runs one named step: its name first, its time kept for
/// [`print_step_times`], and its failure prefixed with its name.
pub fn step<T>(name: &str, run: impl FnOnce() -> Result<T>) -> Result<T> {
    println!("\n==> {name}");
    let started = Instant::now();
    let result = run().map_err(|e| format!("{name} failed: {e}"));
    if let Ok(mut times) = STEP_TIMES.lock() {
        times.push((name.to_owned(), started.elapsed()));
    }
    result
}

/// The steps run so far with their times, as a table a person can read at
/// the end of a long run.
pub fn print_step_times() {
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

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn the_tally_says_what_each_number_is() {
        let tally = super::Tally {
            tests: 320,
            again_through_pgbouncer: 150,
            checks: 136,
            steps: 30,
            failed: 0,
        };
        tally.print();
    }

    #[test]
    fn summaries_are_counted() {
        let summary =
            "ok. 59 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 9.70s";
        assert_eq!(count(summary, "passed"), 59);
        assert_eq!(count(summary, "failed"), 0);
        assert_eq!(count("FAILED. 3 passed; 2 failed; 0 ignored", "failed"), 2);
    }
}
