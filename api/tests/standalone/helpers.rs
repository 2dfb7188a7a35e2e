//! What the standalone tests share: the `quotes-api` binary started as a
//! process, and the test database, identity provider and services from
//! `quotes-test-support`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use quotes_test_support::{
    KillOnDrop, Service, TempPath, TestDatabase, TestIdp, TestKey, admin_port, admin_query_one,
    free_port, now, test_config, wait_until_ready,
};
use serde_json::Value;

/// The `quotes-api` binary with nothing inherited from the environment but
/// quiet logs.
pub fn api_binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quotes-api"));
    command.env_clear().env("RUST_LOG", "warn");
    command
}

/// A `quotes-api serve` process, killed when dropped.
pub struct ApiProcess {
    pub port: u16,
    /// Its metrics listener's port.
    pub metrics_port: u16,
    pub child: KillOnDrop,
    /// Its log, one JSON object a line, as it writes them.
    pub log: std::sync::mpsc::Receiver<String>,
}

impl ApiProcess {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The value of the metric line starting with `name` on its metrics
    /// listener, if there is one.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let text = reqwest::get(format!("http://127.0.0.1:{}/metrics", self.metrics_port))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
    }
}

/// `command` (from [`api_binary`], with any settings of the test's)
/// serving against `database_url` and `idp`, with one worker, on ports the
/// system chose (port 0, read back from its start-up line: no other
/// process can take them in between); returned once `/readyz` answers 200.
/// Its log goes to the test's output.
pub async fn start_server(database_url: &str, idp: &TestIdp, command: &mut Command) -> ApiProcess {
    // The test's own log filter, plus the line that says where it listens.
    let filter = command
        .get_envs()
        .find(|(name, _)| *name == "RUST_LOG")
        .and_then(|(_, value)| value)
        .map_or_else(
            || "warn".to_owned(),
            |value| value.to_string_lossy().into_owned(),
        );
    let mut child = command
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("AUTH_ISSUER", &idp.issuer)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("METRICS_BIND_ADDR", "127.0.0.1:0")
        .env("HTTP_WORKERS", "1")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", format!("{filter},quotes_api::listening=info"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (listening, ports) = std::sync::mpsc::channel();
    let (lines, log) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            let entry: Value = serde_json::from_str(&line).unwrap_or_default();
            if entry["target"] == "quotes_api::listening" {
                let port = |field: &str| entry[field].as_u64().and_then(|p| u16::try_from(p).ok());
                let _ = listening.send((port("port"), port("metrics_port")));
            }
            // The test's output shows it when the test fails.
            eprintln!("{line}");
            let _ = lines.send(line);
        }
    });
    let child = KillOnDrop(child);
    let (port, metrics_port) =
        tokio::task::spawn_blocking(move || ports.recv_timeout(Duration::from_secs(30)))
            .await
            .unwrap()
            .expect("quotes-api says where it listens");
    let server = ApiProcess {
        port: port.expect("a port"),
        metrics_port: metrics_port.expect("a metrics port"),
        child,
        log,
    };
    wait_until_ready(&server.url("/readyz"), Duration::from_secs(20)).await;
    server
}

/// Sends SIGTERM, as an orchestrator stopping the process does.
pub fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
