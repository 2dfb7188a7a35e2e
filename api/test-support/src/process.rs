//! Real servers in tests: a free port to put one on, the wait until it is
//! ready, and a child process that never outlives its test.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `url` until it answers `200`, as a load balancer's health check
/// does; panics when it has not after `within`.
pub async fn wait_until_ready(url: &str, within: Duration) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + within;
    loop {
        let ready = client
            .get(url)
            .send()
            .await
            .is_ok_and(|response| response.status() == 200);
        if ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not answer 200 within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A child process, killed and reaped when dropped.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A service from the machine's packages (`haproxy`, `pgbouncer`): the
/// executable at the `variable` setting or `default`.
#[derive(Debug)]
pub struct Service {
    pub binary: PathBuf,
    /// What to install when it is missing.
    package: &'static str,
    variable: &'static str,
}

impl Service {
    pub fn new(variable: &'static str, default: &str, package: &'static str) -> Self {
        let binary =
            std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
        Self {
            binary,
            package,
            variable,
        }
    }

    /// Starts it with `args`, quiet, killed when dropped; a missing
    /// executable fails the test with what to install.
    pub fn spawn<I, S>(&self, args: I) -> KillOnDrop
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let child = Command::new(&self.binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}): install it (`apt-get install {}`) or set {} to \
                     the executable",
                    self.binary.display(),
                    self.package,
                    self.variable,
                )
            });
        KillOnDrop(child)
    }
}
