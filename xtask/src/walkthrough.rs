//! The README walkthrough: starts the system exactly as the README says
//! (`cargo xtask run`), then runs the README's shell examples against it,
//! so that the README cannot drift from what works.
//!
//! Checked examples are the ```` ```sh ```` blocks between
//! `<!-- walkthrough -->` and `<!-- /walkthrough -->`. They run in order in
//! one shell (variables carry over) with `set -euo pipefail`.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::{Result, Tally, postgres};

/// How long the system may take to build and start.
const START_TIMEOUT: Duration = Duration::from_secs(600);

pub fn run(tally: &mut Tally) -> Result {
    let root = crate::root();
    let readme =
        std::fs::read_to_string(root.join("README.md")).map_err(|e| format!("README.md: {e}"))?;
    let blocks = checked_blocks(&readme);
    if blocks.is_empty() {
        return Err("README.md has no walkthrough blocks".to_owned());
    }

    let system = System::start()?;
    let addr = system.addr.clone();
    system.wait_until_ready()?;

    let mut script = String::from("set -euo pipefail\n");
    for (index, block) in blocks.iter().enumerate() {
        let _ = writeln!(script, "echo '--- README example {}'", index + 1);
        let _ = writeln!(script, "{}", block.replace("127.0.0.1:8080", &addr));
    }
    println!("{script}");
    let status = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env("BIND_ADDR", &addr)
        .env("DEV_IDP_KEY_FILE", &system.key_file)
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cannot run bash: {e}"))?;
    if status.success() {
        tally.passed += blocks.len() as u64;
        println!("walkthrough: {} README examples passed", blocks.len());
        Ok(())
    } else {
        tally.failed += 1;
        Err(format!("a README example failed ({status})"))
    }
}

/// The checked ```` ```sh ```` blocks of `markdown`, in order.
fn checked_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut in_walkthrough = false;
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match line.trim() {
            "<!-- walkthrough -->" => in_walkthrough = true,
            "<!-- /walkthrough -->" => in_walkthrough = false,
            "```sh" if in_walkthrough && current.is_none() => current = Some(String::new()),
            "```" if current.is_some() => blocks.extend(current.take()),
            _ => {
                if let Some(block) = &mut current {
                    block.push_str(line);
                    block.push('\n');
                }
            }
        }
    }
    blocks
}

/// `cargo xtask run` on a free port with a scratch database and key.
struct System {
    child: Child,
    addr: String,
    database: String,
    key_file: PathBuf,
}

impl System {
    fn start() -> Result<Self> {
        let addr = format!("127.0.0.1:{}", postgres::free_port()?);
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
            // A group of its own, so that stopping it stops cargo's children too.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start `cargo xtask run`: {e}"))?;
        Ok(Self {
            child,
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
}

impl Drop for System {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.key_file);
        if let Err(error) = postgres::admin_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.database
        )) {
            eprintln!("xtask: could not drop {}: {error}", self.database);
        }
    }
}

/// The status code and body of `method path` with a bearer `token` and a
/// JSON `body`, or `None` when nothing answers.
pub fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())?;
    Some((status, body))
}

/// The status code of `GET path`, or `None` when nothing answers.
pub fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::checked_blocks;

    #[test]
    fn only_sh_blocks_inside_markers_are_checked() {
        let markdown = "```sh\nnot me\n```\n<!-- walkthrough -->\n```sh\necho one\n```\n```text\nno\n```\n```sh\necho two\n```\n<!-- /walkthrough -->\n```sh\nnor me\n```\n";
        assert_eq!(checked_blocks(markdown), ["echo one\n", "echo two\n"]);
    }
}
