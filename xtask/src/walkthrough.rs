//! The documentation's walkthrough: starts the system exactly as the
//! README says (`cargo xtask run`), then runs the documentation's shell
//! examples against it and compares what they print with what the
//! documentation shows, so that the documentation cannot drift from what
//! works. Last, it stops the system as an editor's stop button or a
//! process manager does, with SIGTERM to `cargo xtask run` alone, and
//! checks that its server stopped with it.
//!
//! Checked examples are the ```` ```sh ```` blocks between
//! `<!-- walkthrough -->` and `<!-- /walkthrough -->`, in `README.md` and
//! then in `docs/*.md` by name. They run in order in one shell (variables
//! carry over) with `set -euo pipefail`. A ```` ```text ```` block right
//! after one is what it must print, line for line; `…` in it stands for
//! any text (a timestamp, say).

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::net::{free_port, http_status};
use crate::paths::root;
use crate::postgres;
use crate::process::{Process, signal, signal_group};
use crate::report::{Result, Tally};

/// How long the system may take to build and start.
const START_TIMEOUT: Duration = Duration::from_secs(600);

/// How long `cargo xtask run` may take to stop after SIGTERM: the server's
/// own grace for requests in flight (10 s) and more, for a busy machine.
const STOP_TIMEOUT: Duration = Duration::from_secs(120);

pub fn run(tally: &mut Tally) -> Result {
    let root = root();
    let examples = examples(&root)?;
    if examples.is_empty() {
        return Err("the documentation has no walkthrough blocks".to_owned());
    }

    let mut system = System::start()?;
    let addr = system.addr.clone();
    system.wait_until_ready()?;

    // One shell for all of them, a line between their outputs to tell them
    // apart.
    let mut script = String::from("set -euo pipefail\n");
    for example in &examples {
        let _ = writeln!(script, "echo '{SEPARATOR}'");
        let _ = writeln!(script, "{}", example.run.replace("127.0.0.1:8080", &addr));
    }
    let output = run_script(&script, &addr, &system.key_file, &root)?;
    let printed = String::from_utf8_lossy(&output.stdout);
    let outputs: Vec<&str> = printed.split(&format!("{SEPARATOR}\n")).skip(1).collect();
    for (index, example) in examples.iter().enumerate() {
        let shown = outputs.get(index).copied().unwrap_or_default();
        println!(
            "--- example {} ({})\n{}{shown}",
            index + 1,
            example.from,
            example.run
        );
        if !output.status.success() && index + 1 >= outputs.len() {
            tally.failed += 1;
            return Err(format!(
                "example {} of {} failed ({})",
                index + 1,
                example.from,
                output.status
            ));
        }
        if let Some(expected) = &example.prints
            && let Err(difference) = same_output(expected, shown)
        {
            tally.failed += 1;
            return Err(format!(
                "example {} of {} printed what the documentation does not show: {difference}",
                index + 1,
                example.from
            ));
        }
    }
    tally.checks += examples.len() as u64;
    println!("walkthrough: {} documented examples passed", examples.len());

    match system.stop_with_sigterm() {
        Ok(status) => {
            println!(
                "walkthrough: SIGTERM stopped `cargo xtask run` ({status}) and its quotes-api; \
                 nothing answers at {addr}"
            );
            tally.steps += 1;
            Ok(())
        }
        Err(e) => {
            tally.failed += 1;
            Err(e)
        }
    }
}

/// Runs the examples' `script` against the system at `addr`, with the
/// command line's settings of its own.
fn run_script(
    script: &str,
    addr: &str,
    key_file: &Path,
    root: &Path,
) -> Result<std::process::Output> {
    // The command line's examples sign in as a person would: `quotes
    // login` prints a code on its standard error, and the person (here,
    // this task, as alice) enters it at the development provider.
    let config_dir = crate::paths::target_dir().join("xtask/walkthrough-quotes-cli");
    let _ = std::fs::remove_dir_all(&config_dir);
    let mut shell = Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("BIND_ADDR", addr)
        .env("DEV_IDP_KEY_FILE", key_file)
        .env("QUOTES_CONFIG_DIR", &config_dir)
        .env("QUOTES_INSECURE_STORAGE", "1")
        .env("QUOTES_CREDENTIAL_STORE", "none")
        .env("QUOTES_NO_BROWSER", "true")
        .env_remove("QUOTES_TOKEN")
        .env_remove("QUOTES_API")
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run bash: {e}"))?;
    let stderr = shell.stderr.take();
    let approver = {
        let addr = addr.to_owned();
        std::thread::spawn(move || {
            let Some(stderr) = stderr else { return };
            for line in std::io::BufRead::lines(std::io::BufReader::new(stderr))
                .map_while(std::result::Result::ok)
            {
                eprintln!("{line}");
                if let Some((_, code)) = line.split_once("enter the code: ") {
                    let form = format!(
                        "user_code={}&user=alice&quotes%3Aread=granted&quotes%3Awrite=granted",
                        code.trim()
                    );
                    match post_form(&addr, "/dev-idp/device", &form) {
                        Some(200) => eprintln!(
                            "walkthrough: signed in as alice with the code {}",
                            code.trim()
                        ),
                        other => eprintln!("walkthrough: the device page answered {other:?}"),
                    }
                }
            }
        })
    };
    let output = shell
        .wait_with_output()
        .map_err(|e| format!("cannot run bash: {e}"))?;
    let _ = approver.join();
    Ok(output)
}

/// `POST path` with a form `body`, sent as the provider's own page sends
/// it (same origin); the status, or `None` when nothing answers.
fn post_form(addr: &str, path: &str, body: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n\
         Sec-Fetch-Site: same-origin\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.get(9..12)?.parse().ok()
}

/// Marks where an example's output starts.
const SEPARATOR: &str = "--- next documented example";

/// A shell example of the documentation: what to run, what it must print
/// when the documentation shows it, and where it is.
#[derive(Debug, PartialEq, Eq)]
struct Example {
    run: String,
    prints: Option<String>,
    from: String,
}

/// Every checked example, from `README.md`, then `docs/*.md` by name.
fn examples(root: &Path) -> Result<Vec<Example>> {
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .map_err(|e| format!("docs: {e}"))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut examples = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let from = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        examples.extend(checked_blocks(&text, &from));
    }
    Ok(examples)
}

/// The checked blocks of `markdown` (the file `from`), in order.
fn checked_blocks(markdown: &str, from: &str) -> Vec<Example> {
    let mut examples: Vec<Example> = Vec::new();
    let mut in_walkthrough = false;
    // The open block: its language and text.
    let mut current: Option<(&str, String)> = None;
    // Whether the last thing seen in the walkthrough was a shell block, so
    // that a text block right after it is its output.
    let mut after_shell = false;
    for line in markdown.lines() {
        let trimmed = line.trim();
        if let Some((language, text)) = &mut current {
            if trimmed == "```" {
                match *language {
                    "sh" => {
                        examples.push(Example {
                            run: std::mem::take(text),
                            prints: None,
                            from: from.to_owned(),
                        });
                        after_shell = true;
                    }
                    "text" if after_shell => {
                        if let Some(last) = examples.last_mut() {
                            last.prints = Some(std::mem::take(text));
                        }
                        after_shell = false;
                    }
                    _ => after_shell = false,
                }
                current = None;
            } else {
                text.push_str(line);
                text.push('\n');
            }
            continue;
        }
        match trimmed {
            "<!-- walkthrough -->" => in_walkthrough = true,
            "<!-- /walkthrough -->" => in_walkthrough = false,
            "```sh" if in_walkthrough => current = Some(("sh", String::new())),
            "```text" if in_walkthrough => current = Some(("text", String::new())),
            fence if in_walkthrough && fence.starts_with("```") => {
                current = Some(("other", String::new()));
            }
            "" => {}
            _ => after_shell = false,
        }
    }
    examples
}

/// Whether `actual` is what `expected` shows, line for line, `…` in a line
/// of `expected` standing for any text; else the first line that differs.
fn same_output(expected: &str, actual: &str) -> std::result::Result<(), String> {
    let expected: Vec<&str> = expected.lines().collect();
    let actual: Vec<&str> = actual.lines().collect();
    for index in 0..expected.len().max(actual.len()) {
        let (want, got) = (expected.get(index), actual.get(index));
        let same = match (want, got) {
            (Some(want), Some(got)) => line_matches(want, got),
            _ => false,
        };
        if !same {
            return Err(format!(
                "line {}: expected {:?}, got {:?}",
                index + 1,
                want.unwrap_or(&"(nothing)"),
                got.unwrap_or(&"(nothing)")
            ));
        }
    }
    Ok(())
}

/// Whether `line` is `pattern`, where each `…` stands for any text.
fn line_matches(pattern: &str, line: &str) -> bool {
    let mut parts = pattern.split('…');
    let Some(first) = parts.next() else {
        return line.is_empty();
    };
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (index, part) in parts.iter().enumerate() {
        if index + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// `cargo xtask run` on a free port with a scratch database and key.
struct System {
    /// The `cargo xtask run` process (cargo runs xtask in its place), until
    /// the check of its stop takes it.
    child: Option<Child>,
    /// Its process id, which also names its process group.
    pid: u32,
    /// Whether it has exited.
    stopped: bool,
    addr: String,
    database: String,
    key_file: PathBuf,
}

impl System {
    fn start() -> Result<Self> {
        let addr = format!("127.0.0.1:{}", free_port()?);
        let database = format!("quotes_walkthrough_{}", std::process::id());
        let key_file =
            std::env::temp_dir().join(format!("quotes-walkthrough-{}.pem", std::process::id()));
        let child = Command::new(env!("CARGO"))
            .args(["xtask", "run"])
            .env("BIND_ADDR", &addr)
            .env(
                "DATABASE_URL",
                postgres::with_database(&postgres::admin_url(), &database),
            )
            .env("DEV_IDP_KEY_FILE", &key_file)
            .env("RUST_LOG", "warn")
            // A group of its own, so that a check that fails halfway can
            // still stop everything it started.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start `cargo xtask run`: {e}"))?;
        Ok(Self {
            pid: child.id(),
            child: Some(child),
            stopped: false,
            addr,
            database,
            key_file,
        })
    }

    fn wait_until_ready(&self) -> Result {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if http_status(&self.addr, "/readyz") == Some(200) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!(
            "`cargo xtask run` was not ready at {} in time",
            self.addr
        ))
    }

    /// Sends SIGTERM to the `cargo xtask run` process alone, not to its
    /// group, as a process manager does; then it must exit, nothing may
    /// answer on its address, and the `quotes-api` it started must be gone.
    fn stop_with_sigterm(&mut self) -> Result<ExitStatus> {
        let servers: Vec<Process> = Process::children(self.pid)
            .into_iter()
            .filter(|child| child.command == "quotes-api")
            .collect();
        if servers.is_empty() {
            return Err(format!(
                "no quotes-api process runs under `cargo xtask run` (process {})",
                self.pid
            ));
        }
        let mut child = self
            .child
            .take()
            .ok_or("`cargo xtask run` was stopped already")?;
        let (exited, exit) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = exited.send(child.wait());
        });
        if !signal(self.pid, "TERM") {
            return Err(format!("could not send SIGTERM to process {}", self.pid));
        }
        let Ok(waited) = exit.recv_timeout(STOP_TIMEOUT) else {
            signal_group(self.pid, "KILL");
            kill_running(&servers);
            return Err(format!(
                "`cargo xtask run` still ran {STOP_TIMEOUT:?} after SIGTERM"
            ));
        };
        self.stopped = true;
        let status = waited.map_err(|e| format!("waiting for `cargo xtask run`: {e}"))?;
        let left = Self::left_running(&self.addr, &servers);
        // What it left is stopped here, or it would outlive this check.
        kill_running(&servers);
        match left {
            None => Ok(status),
            Some(left) => Err(format!(
                "`cargo xtask run` exited ({status}) after SIGTERM, but {left}"
            )),
        }
    }

    /// What still runs of the system after `cargo xtask run` exited: a
    /// listener on its address, or one of its `servers`.
    fn left_running(addr: &str, servers: &[Process]) -> Option<String> {
        let Ok(socket) = addr.parse::<SocketAddr>() else {
            return Some(format!("{addr} is no address"));
        };
        if TcpStream::connect_timeout(&socket, Duration::from_secs(5)).is_ok() {
            return Some(format!("something still answers at {addr}"));
        }
        servers
            .iter()
            .find(|server| server.runs())
            .map(|server| format!("its quotes-api (process {}) still runs", server.pid))
    }
}

/// Sends SIGKILL to those of `processes` that still run (and are still
/// the processes they were: their ids may have been given out again).
fn kill_running(processes: &[Process]) {
    for process in processes.iter().filter(|process| process.runs()) {
        signal(process.pid, "KILL");
    }
}

impl Drop for System {
    fn drop(&mut self) {
        if !self.stopped {
            signal_group(self.pid, "TERM");
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.key_file);
        if let Err(error) = postgres::admin_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.database
        )) {
            eprintln!("xtask: could not drop {}: {error}", self.database);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_blocks_inside_markers_are_checked_with_the_output_they_show() {
        let markdown = "```sh\nnot me\n```\n<!-- walkthrough -->\n```sh\necho one\n```\n\n\
                        ```text\none\n```\nA sentence.\n```sh\necho two\n```\nThen:\n```text\nnot its output\n```\n\
                        <!-- /walkthrough -->\n```sh\nnor me\n```\n";
        let found = checked_blocks(markdown, "docs/x.md");
        assert_eq!(
            found,
            [
                Example {
                    run: "echo one\n".to_owned(),
                    prints: Some("one\n".to_owned()),
                    from: "docs/x.md".to_owned()
                },
                Example {
                    run: "echo two\n".to_owned(),
                    prints: None,
                    from: "docs/x.md".to_owned()
                },
            ]
        );
    }

    #[test]
    fn shown_output_may_leave_out_what_changes_from_run_to_run() {
        assert!(line_matches(
            r#"{"quote":"Q","created_at":"…","updated_at":"…"}"#,
            r#"{"quote":"Q","created_at":"2026-12-06T01:02:03.000000Z","updated_at":"2026-12-06T01:02:03.000000Z"}"#
        ));
        assert!(line_matches("201", "201"));
        assert!(!line_matches("201", "200"));
        assert!(!line_matches("a…b", "a-c"));
        assert!(line_matches("…", "anything"));
        assert!(same_output("one\ntwo\n", "one\ntwo\n").is_ok());
        assert!(same_output("one\n", "one\ntwo\n").is_err());
    }
}
