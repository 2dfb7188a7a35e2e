//! The test server's configuration: the production defaults
//! ([`Config::new`]) with the few fields tests change.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use quotes_api::config::{Config, MetricsConfig};
use quotes_core::auth::{AuthSettings, KeyStoreSettings};
use quotes_core::db::{DatabaseSettings, DatabaseUrl};

/// A test server: loopback on a free port, one worker, a small pool, short
/// timeouts, a metrics listener, the web app's usual origin allowed.
pub fn test_config(database_url: &str, issuer: &str) -> Config {
    let database = DatabaseSettings {
        pool_size: 4,
        acquire_timeout: Duration::from_millis(1500),
        connect_timeout: Duration::from_millis(1500),
        ..DatabaseSettings::new(DatabaseUrl::parse(database_url).expect("a database URL"))
    };
    Config {
        bind_addr: "127.0.0.1:0".parse().expect("a socket address"),
        http_workers: Some(1),
        shutdown_timeout: Duration::from_secs(1),
        cors_allowed_origins: vec!["http://localhost:3000".to_owned()],
        metrics: MetricsConfig {
            bind_addr: Some("127.0.0.1:0".parse().expect("a socket address")),
            on_api_listener: false,
        },
        ..Config::new(database, AuthSettings::new(issuer))
    }
}

/// Key store timings short enough for tests.
pub fn test_key_settings() -> KeyStoreSettings {
    KeyStoreSettings {
        fetch_timeout: Duration::from_secs(2),
        cooldown: Duration::from_secs(30),
        max_retry_delay: Duration::from_millis(500),
        ..KeyStoreSettings::default()
    }
}

/// A path in the temporary directory that no other test uses, removed on drop.
#[derive(Debug)]
pub struct TempPath(pub std::path::PathBuf);

impl TempPath {
    pub fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        Self(std::env::temp_dir().join(format!(
            "quotes-test-{}-{}-{name}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The identity provider's settings from `flags`, parsed as
/// `quotes-api serve` parses its command line.
pub fn auth_from_flags(flags: &[&str]) -> Result<AuthSettings, quotes_api::config::ConfigError> {
    use clap::Parser as _;
    let mut args = vec![
        "quotes-api",
        "--database-url",
        "postgres://localhost/quotes",
    ];
    args.extend_from_slice(flags);
    let cli = quotes_api::config::Cli::try_parse_from(args).expect("flags quotes-api knows");
    quotes_api::config::auth_settings(&cli.serve.auth)
}

/// A Clerk publishable key for the Frontend API at `host`, made the way
/// Clerk makes them.
pub fn clerk_publishable_key(host: &str) -> String {
    use base64::Engine as _;
    format!(
        "pk_test_{}",
        base64::engine::general_purpose::STANDARD.encode(format!("{host}$"))
    )
}

/// The committed `openapi.yaml`.
pub fn committed_openapi() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.yaml");
    std::fs::read_to_string(path).expect("openapi.yaml is committed at the repository root")
}
