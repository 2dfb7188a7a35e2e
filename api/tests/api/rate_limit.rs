//! Each caller's share: a verified user on `/me/*`, a client address
//! elsewhere (named by a trusted proxy when one is in front), `429`
//! problem+json with `Retry-After` over the rate, and the `RateLimit`
//! headers on every counted response.

use std::num::NonZeroU32;

use quotes_api::http::proxies::TrustedProxies;
use quotes_core::rate_limit::RateLimitSettings;

use crate::helpers::{RateClock, Setup, TestApp, assert_problem, spawn_app_with};

/// A burst of `burst`, then one request a second, on a clock that stands
/// still: nothing comes back while a test runs, however slowly.
async fn spawn_limited(burst: u32, trusted_proxies: &'static str) -> TestApp {
    spawn_app_with(Setup {
        rate_clock: RateClock::manual(),
        configure: Box::new(move |config, _| {
            config.rate_limit = Some(RateLimitSettings {
                per_minute: NonZeroU32::new(60).unwrap(),
                burst: NonZeroU32::new(burst).unwrap(),
            });
            config.trusted_proxies = TrustedProxies::new(
                trusted_proxies
                    .split(',')
                    .filter(|net| !net.is_empty())
                    .map(|net| net.parse().unwrap())
                    .collect(),
            );
        }),
        ..Setup::default()
    })
    .await
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn one_user_is_limited_and_another_is_not() {
    let app = spawn_limited(3, "").await;
    let alice = app.token("user_alice");
    for left in [2, 1, 0] {
        let response = app.get_quote(&alice).await;
        assert_eq!(response.status(), 404);
        assert_eq!(
            header(&response, "ratelimit-policy"),
            "\"per-caller\";q=3;w=3"
        );
        assert!(
            header(&response, "ratelimit").starts_with(&format!("\"per-caller\";r={left};t=")),
            "{}",
            header(&response, "ratelimit")
        );
    }

    let refused = app.get_quote(&alice).await;
    assert_eq!(header(&refused, "retry-after"), "1");
    assert_eq!(header(&refused, "ratelimit"), "\"per-caller\";r=0;t=3");
    let body = assert_problem(refused, 429).await;
    assert_eq!(body["type"], "urn:quotes:problem:rate-limited");

    // Another user, from the same address, has a share of their own.
    let bob = app.get_quote(&app.token("user_bob")).await;
    assert_eq!(bob.status(), 404);
    assert!(header(&bob, "ratelimit").starts_with("\"per-caller\";r=2;"));
    // So has the address itself, and the probes are never counted.
    assert_eq!(
        app.client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for _ in 0..10 {
        let probe = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(probe.status(), 200);
        assert!(probe.headers().get("ratelimit").is_none());
    }
    assert!(
        app.metrics_text()
            .await
            .contains("quotes_rate_limited_total{key=\"user\"}"),
        "the refusal is counted"
    );
}

/// `GET /openapi.json`, a public path, saying it comes from `address`.
async fn public_get(app: &TestApp, address: &str) -> reqwest::Result<reqwest::Response> {
    app.client
        .get(app.url("/openapi.json"))
        .header("x-forwarded-for", address)
        .send()
        .await
}

#[tokio::test]
async fn addresses_come_from_trusted_proxies_only() {
    let app = spawn_limited(2, "127.0.0.1/32").await;
    let from = |address| public_get(&app, address);
    assert_eq!(from("198.51.100.1").await.unwrap().status(), 200);
    assert_eq!(from("198.51.100.1").await.unwrap().status(), 200);
    assert_problem(from("198.51.100.1").await.unwrap(), 429).await;
    // A made-up entry left of the proxy's own does not buy a new share.
    assert_problem(from("192.0.2.1, 198.51.100.1").await.unwrap(), 429).await;
    assert_eq!(from("198.51.100.2").await.unwrap().status(), 200);

    // Refused tokens are anonymous: counted by address, then refused.
    let bad_token = |address: &'static str| {
        app.client
            .get(app.url("/me/quote"))
            .bearer_auth("not-a-token")
            .header("x-forwarded-for", address)
            .send()
    };
    assert_problem(bad_token("203.0.113.5").await.unwrap(), 401).await;
    assert_problem(bad_token("203.0.113.5").await.unwrap(), 401).await;
    assert_problem(bad_token("203.0.113.5").await.unwrap(), 429).await;
}

/// `method path` from `address` (through the trusted proxy), sent by a
/// page of the allowed origin, with `token` if any.
async fn from_page(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    address: &str,
    token: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .header("origin", "http://localhost:3000")
        .header("x-forwarded-for", address);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn requests_under_me_that_no_handler_counted_are_charged_to_the_address() {
    let app = spawn_limited(2, "127.0.0.1/32").await;
    let address = "203.0.113.7";
    let not_allowed = from_page(&app, reqwest::Method::POST, "/me/quote", address, None).await;
    assert_eq!(header(&not_allowed, "ratelimit"), "\"per-caller\";r=1;t=1");
    assert_problem(not_allowed, 405).await;
    let unknown = from_page(&app, reqwest::Method::GET, "/me/anything", address, None).await;
    assert_problem(unknown, 404).await;

    // The share is spent: refused, and a page of the allowed origin can
    // read why and when to come back.
    let refused = from_page(&app, reqwest::Method::GET, "/me/anything", address, None).await;
    assert_eq!(
        header(&refused, "access-control-allow-origin"),
        "http://localhost:3000"
    );
    let exposed = header(&refused, "access-control-expose-headers").to_owned();
    for name in ["retry-after", "ratelimit", "x-request-id"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    assert_eq!(header(&refused, "retry-after"), "1");
    assert_problem(refused, 429).await;
    assert!(
        app.metrics_text()
            .await
            .contains("quotes_rate_limited_total{key=\"address\"}")
    );
}

#[tokio::test]
async fn others_behind_a_users_address_cannot_block_the_users_app() {
    let app = spawn_limited(5, "127.0.0.1/32").await;
    let office = "198.51.100.9";
    // Six anonymous requests from the office spend its share...
    for _ in 0..5 {
        let response = from_page(&app, reqwest::Method::GET, "/me/quote", office, None).await;
        assert_problem(response, 401).await;
    }
    let refused = from_page(&app, reqwest::Method::GET, "/me/quote", office, None).await;
    assert_eq!(
        header(&refused, "access-control-allow-origin"),
        "http://localhost:3000"
    );
    assert_problem(refused, 429).await;

    // ...and a signed-in user there still gets through: preflights are
    // not counted, and the user's requests count against the user.
    for _ in 0..10 {
        let preflight = app
            .client
            .request(reqwest::Method::OPTIONS, app.url("/me/quote"))
            .header("origin", "http://localhost:3000")
            .header("access-control-request-method", "PUT")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .header("x-forwarded-for", office)
            .send()
            .await
            .unwrap();
        assert!(preflight.status().is_success(), "{}", preflight.status());
        assert_eq!(
            header(&preflight, "access-control-allow-origin"),
            "http://localhost:3000"
        );
        assert!(preflight.headers().get("ratelimit").is_none());
    }
    let token = app.token("user_in_the_office");
    let mine = from_page(
        &app,
        reqwest::Method::GET,
        "/me/quote",
        office,
        Some(&token),
    )
    .await;
    assert_eq!(
        header(&mine, "access-control-allow-origin"),
        "http://localhost:3000"
    );
    assert_problem(mine, 404).await;
}

#[tokio::test]
async fn an_untrusted_peer_cannot_choose_its_address() {
    let app = spawn_limited(1, "").await;
    let from = |address| public_get(&app, address);
    assert_eq!(from("198.51.100.1").await.unwrap().status(), 200);
    assert_problem(from("198.51.100.2").await.unwrap(), 429).await;
}

#[tokio::test]
async fn the_limit_can_be_switched_off() {
    let app = spawn_app_with(Setup {
        configure: Box::new(|config, _| config.rate_limit = None),
        ..Setup::default()
    })
    .await;
    let token = app.token("user_unlimited");
    for _ in 0..150 {
        let response = app.get_quote(&token).await;
        assert_eq!(response.status(), 404);
        assert!(response.headers().get("ratelimit").is_none());
    }
}
