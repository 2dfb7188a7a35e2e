//! The API's test harness: the real server on a random port, against a
//! fresh database and a real JWKS server (from `quotes-test-support`, shared
//! with the client's tests), and helpers that make each test read like its
//! scenario.

use std::sync::Arc;
use std::time::Duration;

use quotes_api::Seams;
use quotes_api::config::Config;
use quotes_core::auth::{Clock, KeyStoreSettings};
use quotes_core::db::PoolMode;
pub use quotes_core::rate_limit::RateClock;
pub use quotes_test_support::{
    DatabaseUrlFor, FlakyProxy, JwksMode, PgBouncer, TempPath, TestDatabase, TestIdp, TestKey,
    admin_port, now, test_config, test_key_settings, through_pgbouncer, wait_until_ready,
};
use serde_json::{Value, json};

/// A clock a test moves by hand, so that expiry needs no waiting.
#[derive(Debug, Default)]
pub struct TestClock {
    /// Seconds added to the system's clock.
    ahead: std::sync::atomic::AtomicU64,
}

impl TestClock {
    /// Moves the clock `by` forward.
    pub fn advance(&self, by: Duration) {
        self.ahead
            .fetch_add(by.as_secs(), std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_secs(&self) -> u64 {
        quotes_core::auth::SystemClock
            .now_secs()
            .saturating_add(self.ahead.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// A running API with its own database and identity provider.
pub struct TestApp {
    pub address: String,
    /// The metrics listener's address, when the test has one.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub idp: TestIdp,
    pub key: TestKey,
    pub db: TestDatabase,
    /// The pooler between the API and `db`, on a run through PgBouncer.
    _pooler: Option<PgBouncer>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// Changes a test's configuration before the server starts.
pub type Configure = Box<dyn FnOnce(&mut Config, &TestIdp)>;

/// Options for [`spawn_app_with`].
pub struct Setup {
    pub keys: Vec<TestKey>,
    pub configure: Configure,
    pub key_settings: KeyStoreSettings,
    /// The verifier's clock; the system's when `None`.
    pub clock: Option<Arc<dyn Clock>>,
    /// The rate limit's clock: the system's unless a test moves one itself.
    pub rate_clock: RateClock,
    /// Route the database through this URL instead of the direct one.
    pub database_url: Option<DatabaseUrlFor>,
    /// A database the test prepared; a fresh one otherwise.
    pub database: Option<TestDatabase>,
    pub wait_ready: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            keys: vec![TestKey::rsa()],
            configure: Box::new(|_, _| {}),
            key_settings: test_key_settings(),
            clock: None,
            rate_clock: RateClock::default(),
            database_url: None,
            database: None,
            wait_ready: true,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Setup::default()).await
}

pub async fn spawn_app_with(setup: Setup) -> TestApp {
    quotes_api::logging::init_for_tests();
    let db = match setup.database {
        Some(db) => db,
        None => TestDatabase::create().await,
    };
    let key_refs: Vec<&TestKey> = setup.keys.iter().collect();
    let idp = TestIdp::start(&key_refs);
    // On a run through PgBouncer (`QUOTES_TEST_THROUGH_PGBOUNCER`), every
    // test that does not route its database itself goes through one in
    // transaction mode, with fewer server connections than the API's pool.
    let pooler = (setup.database_url.is_none() && through_pgbouncer()).then(|| PgBouncer::start(2));
    let database_url = match (setup.database_url, &pooler) {
        (Some(make), _) => make(&db),
        (None, Some(pooler)) => pooler.url_for(&db),
        (None, None) => db.url(),
    };
    let mut config = test_config(&database_url, &idp.issuer);
    if pooler.is_some() {
        config.database.pool_mode = PoolMode::Transaction;
    }
    (setup.configure)(&mut config, &idp);
    let seams = Seams {
        key_store: setup.key_settings,
        clock: setup.clock,
        rate_clock: setup.rate_clock,
    };
    let app = quotes_api::Application::build_with(config, seams)
        .await
        .expect("the test server starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let handle = app.handle();
    tokio::spawn(app.run());
    let test_app = TestApp {
        address,
        metrics_address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        idp,
        key: setup.keys[0].clone(),
        db,
        _pooler: pooler,
        handle,
    };
    if setup.wait_ready {
        test_app.wait_until_ready().await;
    }
    test_app
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The server's address, for raw connections.
    pub fn socket_addr(&self) -> std::net::SocketAddr {
        self.address.trim_start_matches("http://").parse().unwrap()
    }

    /// The body of `GET path`, whatever the status.
    pub async fn get_text(&self, path: &str) -> String {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// What the metrics listener serves at `/metrics`.
    pub async fn metrics_text(&self) -> String {
        let address = self.metrics_address.as_ref().expect("a metrics listener");
        let response = self
            .client
            .get(format!("{address}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// A valid token for `user`.
    pub fn token(&self, user: &str) -> String {
        self.key.sign(&self.idp.claims(user))
    }

    pub async fn wait_until_ready(&self) {
        wait_until_ready(&self.url("/readyz"), Duration::from_secs(15)).await;
    }

    /// Polls `path` until it answers `status`; false on timeout.
    pub async fn wait_for_status(&self, path: &str, status: u16, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Ok(response) = self.client.get(self.url(path)).send().await
                && response.status().as_u16() == status
            {
                return true;
            }
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn get_quote(&self, token: &str) -> reqwest::Response {
        self.client
            .get(self.url("/me/quote"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn put_quote(&self, token: &str, quote: &str) -> reqwest::Response {
        self.client
            .put(self.url("/me/quote"))
            .bearer_auth(token)
            .json(&json!({ "quote": quote }))
            .send()
            .await
            .unwrap()
    }

    pub async fn put_raw(
        &self,
        token: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .put(self.url("/me/quote"))
            .bearer_auth(token)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send().await.unwrap()
    }

    pub async fn delete_quote(&self, token: &str) -> reqwest::Response {
        self.client
            .delete(self.url("/me/quote"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

/// Asserts `response` is an RFC 9457 problem with `status`; returns it.
pub async fn assert_problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let body: Value = response.json().await.unwrap();
    for field in ["type", "title", "detail"] {
        assert!(body[field].is_string(), "problem has no {field}: {body}");
    }
    assert_eq!(body["status"], status);
    body
}
