//! The client's token source against the real API and a real JWKS server:
//! a token refused as expired is renewed and the request sent once more;
//! nothing else is retried, and never twice.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use quotes_client::auth::{EXPIRED_TOKEN, TokenFuture, TokenSource};
use quotes_client::problem::problem;
use quotes_test_support::{TestIdp, TestKey, now};
use reqwest::StatusCode;
use support::{Provider, TestApi, save};

/// A token for `user` from `api`'s test provider that expires `in_secs`
/// from now (negative: ago).
fn token(api: &TestApi, user: &str, in_secs: i64) -> String {
    let (idp, key) = api.test_provider();
    let mut claims = idp.claims(user);
    claims["exp"] = serde_json::json!(now() + in_secs);
    key.sign(&claims)
}

/// The API, trusting a test provider whose tokens the test signs.
async fn start_api() -> TestApi {
    let key = TestKey::rsa();
    let idp = TestIdp::start(&[&key]);
    TestApi::start(Provider::Test { idp, key }).await
}

/// Hands out `first` as the token, then `fresh` when asked for a fresh one,
/// counting how often each is asked for.
struct Counting {
    first: String,
    fresh: String,
    tokens: AtomicUsize,
    fresh_tokens: AtomicUsize,
}

impl Counting {
    fn new(first: String, fresh: String) -> Arc<Self> {
        Arc::new(Self {
            first,
            fresh,
            tokens: AtomicUsize::new(0),
            fresh_tokens: AtomicUsize::new(0),
        })
    }
}

/// The client owns its source; the test keeps a handle to read the counts.
struct Shared(Arc<Counting>);

impl TokenSource for Shared {
    fn token(&self) -> TokenFuture<'_> {
        self.0.tokens.fetch_add(1, Ordering::SeqCst);
        Box::pin(std::future::ready(Ok(self.0.first.clone())))
    }

    fn fresh_token(&self) -> TokenFuture<'_> {
        self.0.fresh_tokens.fetch_add(1, Ordering::SeqCst);
        Box::pin(std::future::ready(Ok(self.0.fresh.clone())))
    }
}

#[tokio::test]
async fn an_expired_token_is_renewed_and_the_request_sent_once_more() {
    let api = start_api().await;
    let source = Counting::new(
        token(&api, "client_renewed", -60),
        token(&api, "client_renewed", 60),
    );
    let client = quotes_client::Client::with_token_source(&api.base_url, Shared(source.clone()));

    let saved = client
        .put_quote(&save("Renewed in flight."))
        .await
        .expect("the save succeeds with the fresh token");
    assert_eq!(saved.status(), StatusCode::CREATED);
    assert_eq!(source.tokens.load(Ordering::SeqCst), 1);
    assert_eq!(source.fresh_tokens.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_second_refusal_is_the_callers_and_there_is_no_loop() {
    let api = start_api().await;
    let source = Counting::new(
        token(&api, "client_stale", -60),
        token(&api, "client_stale", -60),
    );
    let client = quotes_client::Client::with_token_source(&api.base_url, Shared(source.clone()));

    let refused = client
        .put_quote(&save("Never saved."))
        .await
        .expect_err("a fresh token that is expired too is refused");
    assert_eq!(refused.status(), Some(StatusCode::UNAUTHORIZED));
    let refused = problem(refused).await;
    assert_eq!(refused.type_, EXPIRED_TOKEN);
    assert_eq!(source.fresh_tokens.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn other_refusals_are_not_retried() {
    let api = start_api().await;
    let (idp, key) = api.test_provider();
    let mut claims = idp.claims("client_wrong_issuer");
    claims["iss"] = serde_json::json!("https://elsewhere.example");
    let source = Counting::new(key.sign(&claims), token(&api, "client_wrong_issuer", 60));
    let client = quotes_client::Client::with_token_source(&api.base_url, Shared(source.clone()));

    let refused = client
        .get_quote()
        .await
        .expect_err("a token of another issuer is refused");
    assert_eq!(refused.status(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(
        problem(refused).await.type_,
        "urn:quotes:problem:invalid-token"
    );
    assert_eq!(source.fresh_tokens.load(Ordering::SeqCst), 0);
}
