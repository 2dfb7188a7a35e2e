//! A `quotes-api` of our own for checks that need a live server: a free
//! loopback port, a scratch database and the development identity
//! provider. Dropping it stops the server and drops the database.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::net::{free_port, http_status};
use crate::paths::target_dir;
use crate::postgres;
use crate::process::cargo;
use crate::report::Result;

pub struct ApiServer {
    child: Child,
    pub addr: String,
    database: String,
    key_file: PathBuf,
    /// How `serve` was started, so that it can be started again.
    serve: Command,
}

impl ApiServer {
    /// Builds (if needed) and starts the API with `env` added.
    pub fn start(name: &str, env: &[(&str, &str)]) -> Result<Self> {
        Self::start_with_args(name, env, &[])
    }

    /// As [`ApiServer::start`], with extra `serve` arguments (`--web-dir`).
    pub fn start_with_args(name: &str, env: &[(&str, &str)], args: &[&str]) -> Result<Self> {
        Self::start_on(&postgres::admin_url(), name, env, args)
    }

    /// As [`ApiServer::start_with_args`], on the Postgres at `admin_url`.
    pub fn start_on(
        admin_url: &str,
        name: &str,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Result<Self> {
        cargo(&[
            "build",
            "--quiet",
            "--package",
            "quotes-api",
            "--features",
            "dev-idp",
        ])?;
        let addr = format!("127.0.0.1:{}", free_port()?);
        let database = format!("quotes_{name}_{}", std::process::id());
        let key_file =
            std::env::temp_dir().join(format!("quotes-{name}-{}.pem", std::process::id()));
        let url = postgres::with_database(admin_url, &database);
        let migrated = command(&["migrate", "--create-database"], &url, &addr, &key_file)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("cannot start quotes-api: {e}"))?;
        if !migrated.success() {
            return Err("quotes-api migrate failed".to_owned());
        }
        let serve: Vec<&str> = ["serve", "--dev-idp"].iter().chain(args).copied().collect();
        let mut serve = command(&serve, &url, &addr, &key_file);
        // The checks are robots sending from one address, far faster than
        // people: the limit stays on (its headers in every answer), with a
        // quota out of their way. `api/tests/api/rate_limit.rs` tests it.
        serve
            .env("RATE_LIMIT_PER_MINUTE", "600000")
            .env("RATE_LIMIT_BURST", "10000");
        serve.envs(env.iter().copied()).env("RUST_LOG", "warn");
        let child = serve
            .spawn()
            .map_err(|e| format!("cannot start quotes-api: {e}"))?;
        let server = Self {
            child,
            addr,
            database,
            key_file,
            serve,
        };
        server.wait_until_ready(Duration::from_secs(30))?;
        Ok(server)
    }

    /// Stops the server, as an outage would; [`ApiServer::start_again`]
    /// brings it back on the same address with the same keys and data.
    pub fn stop(&mut self) -> Result {
        self.child.kill().map_err(|e| e.to_string())?;
        self.child.wait().map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Starts the server again after [`ApiServer::stop`].
    pub fn start_again(&mut self) -> Result {
        self.child = self
            .serve
            .spawn()
            .map_err(|e| format!("cannot start quotes-api: {e}"))?;
        self.wait_until_ready(Duration::from_secs(30))
    }

    /// A development token for `user`.
    pub fn dev_token(&self, user: &str) -> Result<String> {
        self.dev_token_with(user, &[])
    }

    /// A development token for `user` made with `dev-token`'s `flags`
    /// (`--scope quotes:read`, say).
    pub fn dev_token_with(&self, user: &str, flags: &[&str]) -> Result<String> {
        let output = Command::new(binary())
            .args(["dev-token", user])
            .args(flags)
            .env("BIND_ADDR", &self.addr)
            .env("DEV_IDP_KEY_FILE", &self.key_file)
            .output()
            .map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// The development provider's signing key (PEM), for tokens a test
    /// makes itself (an expired one, say).
    pub fn key_file(&self) -> &std::path::Path {
        &self.key_file
    }

    /// The name of the server's database.
    pub fn database(&self) -> &str {
        &self.database
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn wait_until_ready(&self, timeout: Duration) -> Result {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if http_status(&self.addr, "/readyz") == Some(200) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("quotes-api was not ready at {} in time", self.addr))
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.key_file);
        let _ = postgres::admin_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.database
        ));
    }
}

/// The binary `cargo build` made.
fn binary() -> PathBuf {
    target_dir().join("debug/quotes-api")
}

fn command(args: &[&str], url: &str, addr: &str, key_file: &std::path::Path) -> Command {
    let mut command = Command::new(binary());
    command
        .args(args)
        .env("DATABASE_URL", url)
        .env("BIND_ADDR", addr)
        .env("DEV_IDP_KEY_FILE", key_file);
    command
}
