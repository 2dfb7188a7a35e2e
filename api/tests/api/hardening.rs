//! What a hostile caller can make the API spend: label values, token
//! subjects, readiness probes, forwarded headers, and the signing keys a
//! broken provider would have us drop.

use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::Method;

use crate::helpers::{FlakyProxy, Setup, TestKey, assert_problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn invented_methods_share_one_label() {
    let app = spawn_app().await;
    for i in 0..200 {
        let method = Method::from_bytes(format!("XXXXINVENTED{i:04}").as_bytes()).unwrap();
        let response = app
            .client
            .request(method, app.url("/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405);
    }
    let body = app.metrics_text().await;
    assert!(!body.contains("XXXXINVENTED"), "a method became a label");
    assert!(
        body.contains(r#"http_requests_total{method="other",route="/healthz",status="405"}"#),
        "{body}"
    );
}

#[tokio::test]
async fn metrics_stay_off_the_api_listener_unless_asked_for() {
    let app = spawn_app().await;
    assert_problem(
        app.client.get(app.url("/metrics")).send().await.unwrap(),
        404,
    )
    .await;
    assert!(app.metrics_text().await.contains("http_requests_total"));
    // The metrics listener serves nothing else.
    let other = format!("{}/me/quote", app.metrics_address.as_ref().unwrap());
    assert_problem(app.client.get(&other).send().await.unwrap(), 404).await;

    let opted_in = spawn_app_with(Setup {
        configure: Box::new(|config, _| config.metrics.on_api_listener = true),
        ..Setup::default()
    })
    .await;
    let body = opted_in.get_text("/metrics").await;
    assert!(body.contains("quotes_db_pool_max_connections"), "{body}");
}

#[tokio::test]
async fn a_subject_with_control_characters_is_an_invalid_token() {
    let app = spawn_app().await;
    for sub in ["user_\u{0}nul", "user_\nnewline", "user_\u{7f}del"] {
        let token = app.key.sign(&app.idp.claims(sub));
        let response = app.get_quote(&token).await;
        let problem = assert_problem(response, 401).await;
        assert_eq!(
            problem["type"], "urn:quotes:problem:invalid-token",
            "{sub:?}"
        );
    }
}

#[tokio::test]
async fn a_jwks_without_usable_keys_keeps_the_keys_we_have() {
    let app = spawn_app().await;
    let token = app.token("user_keys_kept");
    assert_eq!(app.put_quote(&token, "Kept.").await.status(), 201);

    // The provider now publishes nothing usable; an unknown kid makes the
    // API look at once.
    app.idp.set_raw_keys(vec![
        serde_json::json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0"}),
    ]);
    let fetches = app.idp.jwks_fetches();
    let stranger = TestKey::load(
        "rsa-2048-b",
        "kid-nobody-knows",
        jsonwebtoken::Algorithm::RS256,
        false,
    );
    let refused = app
        .get_quote(&stranger.sign(&app.idp.claims("user_x")))
        .await;
    assert_problem(refused, 401).await;
    assert!(app.idp.jwks_fetches() > fetches, "the JWKS was not fetched");

    // A token we have not seen yet, signed with the key we had.
    let fresh = app.key.sign(&app.idp.claims("user_keys_kept_2"));
    assert_eq!(app.get_quote(&fresh).await.status(), 404);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn discovery_must_name_the_configured_issuer() {
    // The configured issuer has a trailing slash; the provider's discovery
    // document names it without. Per OpenID Connect Discovery, that is
    // another issuer: no keys are taken from it.
    let app = spawn_app_with(Setup {
        configure: Box::new(|config, idp| config.auth.issuer = format!("{}/", idp.issuer)),
        wait_ready: false,
        ..Setup::default()
    })
    .await;
    let mut claims = app.idp.claims("user_other_issuer");
    claims["iss"] = format!("{}/", app.idp.issuer).into();
    let response = app.get_quote(&app.key.sign(&claims)).await;
    assert_problem(response, 503).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["signing_keys"], "unavailable");
    assert!(app.idp.discovery_fetches() > 0);
}

#[tokio::test]
async fn a_flood_of_readiness_probes_takes_no_connections_from_requests() {
    let proxy = FlakyProxy::to_database().await;
    let app = spawn_app_with(Setup {
        database_url: Some(proxy.database_url()),
        configure: Box::new(|config, _| {
            config.database.pool_size = 2;
            config.database.acquire_timeout = Duration::from_secs(1);
        }),
        ..Setup::default()
    })
    .await;
    let token = app.token("user_probed");
    assert_eq!(app.put_quote(&token, "Still here.").await.status(), 201);

    // Every answer from the database now takes 150 ms: probes that each
    // pinged it would queue for seconds on two connections.
    proxy.slow_down(Duration::from_millis(150));
    let probes = (0..60).map(|_| app.client.get(app.url("/readyz")).send());
    let (probes, quote) = tokio::join!(
        futures_util::future::join_all(probes),
        app.get_quote(&token)
    );
    assert_eq!(
        quote.status(),
        200,
        "the request lost its connection to probes"
    );
    for probe in probes {
        assert_eq!(probe.unwrap().status(), 200);
    }
}

/// Asserts the headers every answer of the API carries.
fn assert_security_headers(response: &reqwest::Response, what: &str) {
    let headers = response.headers();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(
            headers.get(name).map(|v| v.to_str().unwrap()),
            Some(value),
            "{what}: {name}"
        );
    }
    assert!(
        headers.contains_key("content-security-policy"),
        "{what}: content-security-policy"
    );
    assert!(headers.contains_key("x-request-id"), "{what}: x-request-id");
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let key_file = crate::helpers::TempPath::new("headers-idp.pem");
    let settings = quotes_api::dev_idp::DevIdpSettings::new(key_file.0.clone());
    let provider = settings.clone();
    let app = spawn_app_with(Setup {
        configure: Box::new(move |config, _| {
            config.dev_idp = Some(provider);
            config.request_timeout = Duration::from_secs(1);
            config.rate_limit = Some(quotes_core::rate_limit::RateLimitSettings {
                per_minute: std::num::NonZeroU32::new(1).unwrap(),
                burst: std::num::NonZeroU32::new(10).unwrap(),
            });
        }),
        ..Setup::default()
    })
    .await;
    let get = |path: &str| app.client.get(app.url(path));

    let ok = get("/healthz").send().await.unwrap();
    assert_security_headers(&ok, "200");
    let unauthorized = get("/me/quote").send().await.unwrap();
    assert_security_headers(&unauthorized, "401");
    let not_allowed = app.client.post(app.url("/healthz")).send().await.unwrap();
    assert_security_headers(&not_allowed, "405");
    let misdirected = get("/dev-idp/jwks.json")
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(misdirected.status(), 421);
    assert_security_headers(&misdirected, "421");

    // A body that never comes: the request deadline answers.
    let body = futures_util::stream::once(async {
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{"))
    })
    .chain(futures_util::stream::pending());
    let timed_out = app
        .client
        .put(app.url("/me/quote"))
        .bearer_auth(
            quotes_api::dev_idp::DevIdp::load(
                &settings,
                quotes_api::dev_idp::issuer_for(app.socket_addr()),
            )
            .unwrap()
            .mint("user_slow_body")
            .unwrap(),
        )
        .header("content-type", "application/json")
        .header("content-length", "20")
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    assert_eq!(timed_out.status(), 408);
    assert_security_headers(&timed_out, "408");

    let limited = loop {
        let response = get("/openapi.json").send().await.unwrap();
        if response.status() == 429 {
            break response;
        }
    };
    assert_security_headers(&limited, "429");
}
