//! A real `quotes-api` for the client's tests: its own database, the
//! development identity provider for tokens, and a generated client that
//! sends one user's token.

use std::time::{Duration, Instant};

use quotes_api::dev_idp::{DevIdp, DevIdpSettings, issuer_for};
use quotes_test_support::{TestDatabase, test_config, unique};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

/// The API on a random loopback port, stopped (and its database and key
/// file removed) when dropped.
pub struct TestApi {
    pub base_url: String,
    key_file: DevIdpSettings,
    _database: TestDatabase,
    handle: actix_web::dev::ServerHandle,
}

impl TestApi {
    pub async fn start() -> Self {
        quotes_api::logging::init_for_tests();
        let database = TestDatabase::create().await;
        let key_file = DevIdpSettings::new(
            std::env::temp_dir().join(format!("{}.pem", unique("quotes-client-dev-idp"))),
        );
        let mut config = test_config(&database.url(), "");
        // The issuer is the development provider's, named at start.
        config.dev_idp = Some(key_file.clone());
        config.metrics = quotes_api::config::MetricsConfig::default();
        let app = quotes_api::Application::build(config)
            .await
            .expect("the API starts");
        let base_url = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        tokio::spawn(app.run());
        let api = Self {
            base_url,
            key_file,
            _database: database,
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
    }
}
