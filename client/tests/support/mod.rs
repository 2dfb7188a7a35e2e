//! A real `quotes-api` for the client's tests: its own database, the
//! development identity provider for tokens, and a generated client that
//! sends one user's token.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use quotes_api::config::{AuthConfig, Config, DatabaseConfig, LogFormat, MetricsConfig};
use quotes_api::db::DatabaseUrl;
use quotes_api::dev_idp::{DevIdp, DevIdpConfig, issuer_for};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

/// Postgres where tests may create and drop databases (as in `api/tests`).
fn admin_url() -> String {
    std::env::var("QUOTES_TEST_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

async fn admin_execute(sql: &str) {
    let (client, connection) = tokio_postgres::connect(&admin_url(), tokio_postgres::NoTls)
        .await
        .expect("Postgres must run at QUOTES_TEST_ADMIN_URL or 127.0.0.1:5432");
    tokio::spawn(connection);
    client.batch_execute(sql).await.expect(sql);
}

/// A name no other test (or test process) uses.
fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .subsec_nanos();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The API on a random loopback port, stopped (and its database and key
/// file removed) when dropped.
pub struct TestApi {
    pub base_url: String,
    key_file: DevIdpConfig,
    database: String,
    handle: actix_web::dev::ServerHandle,
}

impl TestApi {
    pub async fn start() -> Self {
        quotes_api::telemetry::init_for_tests();
        let database = unique("quotes_client_test");
        admin_execute(&format!("CREATE DATABASE {database}")).await;
        let admin = reqwest::Url::parse(&admin_url()).expect("QUOTES_TEST_ADMIN_URL is a URL");
        let database_url = format!(
            "postgres://{}@{}:{}/{database}?sslmode=disable",
            admin.username(),
            admin.host_str().unwrap_or("127.0.0.1"),
            admin.port().unwrap_or(5432),
        );
        let key_file = DevIdpConfig {
            key_file: std::env::temp_dir().join(format!("{}.pem", unique("quotes-client-dev-idp"))),
        };
        let config = Config {
            bind_addr: "127.0.0.1:0".parse().expect("a socket address"),
            http_workers: Some(1),
            shutdown_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(15),
            cors_allowed_origins: Vec::new(),
            log_format: LogFormat::Text,
            metrics: MetricsConfig::default(),
            trusted_proxies: Vec::new(),
            database: DatabaseConfig {
                url: DatabaseUrl::parse(&database_url).expect("a database URL"),
                pool_size: 2,
                acquire_timeout: Duration::from_millis(1500),
                connect_timeout: Duration::from_millis(1500),
                statement_timeout: Duration::from_secs(5),
            },
            auth: AuthConfig {
                // Replaced by the development provider's issuer at start.
                issuer: String::new(),
                jwks_url: None,
                audiences: Vec::new(),
                authorized_parties: Vec::new(),
                leeway: Duration::from_secs(5),
                clerk: false,
                static_key: None,
            },
            dev_idp: Some(key_file.clone()),
            clerk_webhook_secret: None,
            web: None,
        };
        let app = quotes_api::Application::build(config)
            .await
            .expect("the API starts");
        let base_url = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        tokio::spawn(app.run());
        let api = Self {
            base_url,
            key_file,
            database,
            handle,
        };
        api.wait_until_ready().await;
        api
    }

    /// A development token for `user`, signed by this server's provider.
    pub fn token(&self, user: &str) -> String {
        let address = self
            .base_url
            .trim_start_matches("http://")
            .parse()
            .expect("a socket address");
        DevIdp::load(&self.key_file, issuer_for(address))
            .expect("the development key was created at start")
            .mint(user)
            .expect("a token")
    }

    /// A generated client that signs in as `user`.
    pub fn client_for(&self, user: &str) -> quotes_client::Client {
        let mut headers = HeaderMap::new();
        let mut bearer = HeaderValue::from_str(&format!("Bearer {}", self.token(user)))
            .expect("a token is a header value");
        bearer.set_sensitive(true);
        headers.insert(AUTHORIZATION, bearer);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("an HTTP client");
        quotes_client::Client::new_with_client(&self.base_url, http)
    }

    async fn wait_until_ready(&self) {
        let client = quotes_client::Client::new(&self.base_url);
        let deadline = Instant::now() + Duration::from_secs(15);
        while client.readyz().await.is_err() {
            assert!(Instant::now() < deadline, "the API did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TestApi {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        let _ = std::fs::remove_file(&self.key_file.key_file);
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database);
        // Drop runs outside async, maybe while the test's runtime ends: a
        // thread and runtime of its own finish the job.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(admin_execute(&sql));
        })
        .join();
    }
}
