//! A real `quotes-api` for the client's tests: its own database, an
//! identity provider it trusts (its own development provider, or a test
//! provider whose tokens a test signs with any claims), and generated
//! clients.

// Shared by every test binary of the client; each uses part of it.
#![allow(dead_code, reason = "each test binary uses part of the support")]

use std::time::Duration;

use quotes_api::dev_idp::{DevIdp, DevIdpSettings, issuer_for};
use quotes_client::auth::StaticToken;
use quotes_client::types::SaveQuote;
use quotes_test_support::{TestDatabase, TestIdp, TestKey, test_config, unique, wait_until_ready};

/// The identity provider the API trusts.
pub enum Provider {
    /// The API's own development provider, with a key file of its own.
    Development,
    /// A JWKS server of the test's, and the key it publishes.
    Test { idp: TestIdp, key: TestKey },
}

/// The API on a random loopback port, stopped (and its database and key
/// file removed) when dropped.
pub struct TestApi {
    pub base_url: String,
    provider: Provider,
    /// The development provider's key, when it is the one trusted.
    dev_idp: Option<DevIdpSettings>,
    _database: TestDatabase,
    handle: actix_web::dev::ServerHandle,
}

impl TestApi {
    pub async fn start(provider: Provider) -> Self {
        quotes_api::logging::init_for_tests();
        let database = TestDatabase::create().await;
        let (mut config, dev_idp) = match &provider {
            Provider::Development => {
                let settings = DevIdpSettings::new(
                    std::env::temp_dir().join(format!("{}.pem", unique("quotes-client-dev-idp"))),
                );
                // The issuer is the development provider's, named at start.
                let mut config = test_config(&database.url(), "");
                config.dev_idp = Some(settings.clone());
                (config, Some(settings))
            }
            Provider::Test { idp, .. } => (test_config(&database.url(), &idp.issuer), None),
        };
        config.metrics = quotes_api::config::MetricsConfig::default();
        let app = quotes_api::Application::build(config)
            .await
            .expect("the API starts");
        let base_url = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        tokio::spawn(app.run());
        wait_until_ready(&format!("{base_url}/readyz"), Duration::from_secs(15)).await;
        Self {
            base_url,
            provider,
            dev_idp,
            _database: database,
            handle,
        }
    }

    /// A valid token for `user` from the trusted provider.
    pub fn token(&self, user: &str) -> String {
        match (&self.provider, &self.dev_idp) {
            (Provider::Test { idp, key }, _) => key.sign(&idp.claims(user)),
            (Provider::Development, Some(settings)) => {
                let address = self
                    .base_url
                    .trim_start_matches("http://")
                    .parse()
                    .expect("a socket address");
                DevIdp::load(settings, issuer_for(address))
                    .expect("the development key was created at start")
                    .mint(user)
                    .expect("a token")
            }
            (Provider::Development, None) => unreachable!("started with its key"),
        }
    }

    /// The test provider and its key, to sign tokens with any claims.
    pub fn test_provider(&self) -> (&TestIdp, &TestKey) {
        match &self.provider {
            Provider::Test { idp, key } => (idp, key),
            Provider::Development => panic!("this API trusts its development provider"),
        }
    }

    /// A generated client that signs in as `user`.
    pub fn client_for(&self, user: &str) -> quotes_client::Client {
        quotes_client::Client::with_token_source(&self.base_url, StaticToken::new(self.token(user)))
    }
}

impl Drop for TestApi {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        if let Some(settings) = &self.dev_idp {
            let _ = std::fs::remove_file(&settings.key_file);
        }
    }
}

/// The body of a save of `text`: every test builds it here, so a field
/// added to the quote is added once.
pub fn save(text: &str) -> SaveQuote {
    SaveQuote {
        quote: text.to_owned(),
    }
}
