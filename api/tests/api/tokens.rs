//! Token verification: each rule of the contract with the case that must
//! pass and the case that must fail.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};

use crate::helpers::{
    JwksMode, Setup, TestApp, TestClock, TestIdp, TestKey, assert_problem, now, spawn_app,
    spawn_app_with,
};

/// Asserts a 401 with an RFC 6750 challenge; `invalid` tells whether a
/// token was presented and rejected. Returns the problem body.
async fn assert_unauthorized(response: reqwest::Response, invalid: bool) -> Value {
    let challenge = response
        .headers()
        .get("www-authenticate")
        .expect("a 401 carries WWW-Authenticate")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert_eq!(
        challenge.contains("error=\"invalid_token\""),
        invalid,
        "{challenge}"
    );
    assert_problem(response, 401).await
}

async fn assert_rejected(app: &TestApp, token: &str) -> Value {
    let body = assert_unauthorized(app.get_quote(token).await, true).await;
    assert!(
        !body.to_string().contains(token),
        "the token is echoed: {body}"
    );
    body
}

async fn assert_accepted(app: &TestApp, token: &str) {
    let response = app.get_quote(token).await;
    assert_eq!(response.status(), 404, "a valid token reaches the handler");
}

fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[tokio::test]
async fn every_supported_algorithm_verifies() {
    let rsa = TestKey::rsa();
    let keys = vec![
        rsa.clone(),
        TestKey::ec_p256(),
        TestKey::ec_p384(),
        TestKey::ed25519(),
    ];
    let app = spawn_app_with(Setup {
        keys: keys.clone(),
        ..Setup::default()
    })
    .await;
    for alg in [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ] {
        assert_accepted(&app, &rsa.sign_as(alg, &app.idp.claims("user_a"))).await;
    }
    for key in &keys[1..] {
        assert_accepted(&app, &key.sign(&app.idp.claims("user_a"))).await;
    }
}

#[tokio::test]
async fn no_token_gets_a_plain_challenge() {
    let app = spawn_app().await;
    let bare = app.client.get(app.url("/me/quote")).send().await.unwrap();
    let problem = assert_unauthorized(bare, false).await;
    assert_eq!(problem["type"], "urn:quotes:problem:missing-token");

    let basic = app
        .client
        .get(app.url("/me/quote"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_unauthorized(basic, false).await;

    // Only the Authorization header counts, never the query string.
    let token = app.token("user_a");
    let query = app
        .client
        .get(format!("{}?access_token={token}", app.url("/me/quote")))
        .send()
        .await
        .unwrap();
    assert_unauthorized(query, false).await;
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    let token = app.token("user_a");
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let response = app
            .client
            .get(app.url("/me/quote"))
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{scheme}");
    }
}

#[tokio::test]
async fn garbage_tokens_are_invalid_token() {
    let app = spawn_app().await;
    for token in [
        "abc",
        "a.b.c",
        "....",
        "eyJhbGciOiJSUzI1NiJ9.e30",
        "ünïcödé.x.y",
    ] {
        let response = app
            .client
            .get(app.url("/me/quote"))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_unauthorized(response, true).await;
    }
}

#[tokio::test]
async fn alg_none_and_hmac_are_always_rejected() {
    let app = spawn_app().await;
    let claims = app.idp.claims("user_a");
    let none = unsigned(
        &json!({"alg": "none", "typ": "JWT", "kid": app.key.kid}),
        &claims,
    );
    assert_rejected(&app, &none).await;

    // The classic confusion attack: HMAC keyed with the public key.
    let public_jwk = app.key.jwk.to_string();
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let mut header = Header::new(alg);
        header.kid = Some(app.key.kid.clone());
        let token = jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(public_jwk.as_bytes()),
        )
        .unwrap();
        assert_rejected(&app, &token).await;
    }
}

#[tokio::test]
async fn the_algorithm_must_fit_the_key() {
    let rsa = TestKey::rsa();
    let ec = TestKey::ec_p256();
    let pinned = TestKey::load("rsa-2048-b", "rsa-pinned", Algorithm::RS256, true);
    let app = spawn_app_with(Setup {
        keys: vec![rsa.clone(), ec.clone(), pinned.clone()],
        ..Setup::default()
    })
    .await;
    let claims = app.idp.claims("user_a");

    // An EC signature presented under the RSA key's id.
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(rsa.kid.clone());
    assert_rejected(&app, &ec.sign_with_header(&header, &claims)).await;

    // ES384 claimed for a P-256 key.
    let mut header = Header::new(Algorithm::ES384);
    header.kid = Some(ec.kid.clone());
    let es384 = TestKey::ec_p384().sign_with_header(&header, &claims);
    assert_rejected(&app, &es384).await;

    // The JWK says RS256, so PS256 is refused even though the key could do it.
    assert_accepted(&app, &pinned.sign_as(Algorithm::RS256, &claims)).await;
    assert_rejected(&app, &pinned.sign_as(Algorithm::PS256, &claims)).await;
}

#[tokio::test]
async fn a_tampered_token_fails_the_signature_check() {
    let app = spawn_app().await;
    let token = app.token("user_a");
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("user_admin");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let problem = assert_rejected(&app, &parts.join(".")).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("signature"),
        "{problem}"
    );

    // Signed by a key the provider does not publish, under a known kid.
    let stranger = TestKey::load("rsa-2048-b", &app.key.kid, Algorithm::RS256, false);
    assert_rejected(&app, &stranger.sign(&app.idp.claims("user_a"))).await;
}

#[tokio::test]
async fn header_urls_and_embedded_keys_are_never_followed() {
    let attacker_key = TestKey::load("rsa-2048-b", "attacker", Algorithm::RS256, false);
    let attacker = TestIdp::start(&[&attacker_key]);
    let app = spawn_app().await;
    let jwks_url = format!("{}{}", attacker.issuer, attacker.jwks_path());

    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("attacker".to_owned());
    header.jku = Some(jwks_url.clone());
    header.x5u = Some(jwks_url);
    header.jwk = Some(serde_json::from_value(attacker_key.jwk.clone()).unwrap());
    let token = attacker_key.sign_with_header(&header, &app.idp.claims("user_a"));
    assert_rejected(&app, &token).await;
    assert_eq!(attacker.jwks_fetches(), 0);
    assert_eq!(attacker.discovery_fetches(), 0);
}

#[tokio::test]
async fn a_token_without_kid_is_rejected() {
    let app = spawn_app().await;
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &app.idp.claims("user_a"),
        &app.key.encoding,
    )
    .unwrap();
    assert_rejected(&app, &token).await;
}

#[tokio::test]
async fn an_unknown_kid_triggers_one_refresh_then_cools_down() {
    let app = spawn_app().await;
    let fetches = app.idp.jwks_fetches();
    let stranger = TestKey::load("rsa-2048-b", "not-published", Algorithm::RS256, false);
    let token = stranger.sign(&app.idp.claims("user_a"));

    let burst = (0..20).map(|_| app.get_quote(&token));
    for response in futures_util::future::join_all(burst).await {
        assert_unauthorized(response, true).await;
    }
    assert_eq!(
        app.idp.jwks_fetches(),
        fetches + 1,
        "one shared refresh for the burst"
    );

    assert_rejected(&app, &token).await;
    assert_eq!(
        app.idp.jwks_fetches(),
        fetches + 1,
        "no refresh within the cooldown"
    );
}

#[tokio::test]
async fn a_new_key_is_picked_up_by_the_refresh_its_kid_triggers() {
    let app = spawn_app().await;
    let rotated = TestKey::load("rsa-2048-b", "rsa-2", Algorithm::RS256, false);
    app.idp.set_keys(&[&app.key, &rotated]);
    assert_accepted(&app, &rotated.sign(&app.idp.claims("user_a"))).await;
    assert_accepted(&app, &app.token("user_a")).await;
}

#[tokio::test]
async fn expiry_is_required_and_checked_with_leeway() {
    let app = spawn_app().await;
    let mut claims = app.idp.claims("user_a");
    claims.as_object_mut().unwrap().remove("exp");
    assert_rejected(&app, &app.key.sign(&claims)).await;

    claims["exp"] = json!(now() - 30);
    let problem = assert_rejected(&app, &app.key.sign(&claims)).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("expired"),
        "{problem}"
    );
    // A type of its own, so a client can renew the token and try once more.
    assert_eq!(problem["type"], "urn:quotes:problem:expired-token");

    claims["exp"] = json!(now() - 2); // within the 5 s leeway
    assert_accepted(&app, &app.key.sign(&claims)).await;

    claims["exp"] = json!("tomorrow");
    let problem = assert_rejected(&app, &app.key.sign(&claims)).await;
    assert_eq!(problem["type"], "urn:quotes:problem:invalid-token");
}

#[tokio::test]
async fn nbf_and_iat_in_the_future_are_rejected_beyond_leeway() {
    let app = spawn_app().await;
    let mut claims = app.idp.claims("user_a");
    claims["nbf"] = json!(now() + 30);
    assert_rejected(&app, &app.key.sign(&claims)).await;
    claims["nbf"] = json!(now() + 2);
    assert_accepted(&app, &app.key.sign(&claims)).await;

    let mut claims = app.idp.claims("user_a");
    claims["iat"] = json!(now() + 30);
    assert_rejected(&app, &app.key.sign(&claims)).await;
    claims["iat"] = json!(now() + 2);
    assert_accepted(&app, &app.key.sign(&claims)).await;
}

#[tokio::test]
async fn the_issuer_must_match_exactly() {
    let app = spawn_app().await;
    let issuer = app.idp.issuer.clone();
    for wrong in [
        format!("{issuer}/"),
        issuer.to_uppercase(),
        "https://evil.example".to_owned(),
    ] {
        let mut claims = app.idp.claims("user_a");
        claims["iss"] = json!(wrong);
        assert_rejected(&app, &app.key.sign(&claims)).await;
    }
    let mut claims = app.idp.claims("user_a");
    claims.as_object_mut().unwrap().remove("iss");
    assert_rejected(&app, &app.key.sign(&claims)).await;
}

#[tokio::test]
async fn the_subject_must_be_a_non_empty_string_of_at_most_255_characters() {
    let app = spawn_app().await;
    let mut claims = app.idp.claims("user_a");
    for bad in [json!(""), json!(42), json!("x".repeat(256)), Value::Null] {
        claims["sub"] = bad;
        assert_rejected(&app, &app.key.sign(&claims)).await;
    }
    claims.as_object_mut().unwrap().remove("sub");
    assert_rejected(&app, &app.key.sign(&claims)).await;
    assert_accepted(&app, &app.token(&"ü".repeat(255))).await;
}

#[tokio::test]
async fn the_audience_is_checked_only_when_configured() {
    let unchecked = spawn_app().await;
    let mut claims = unchecked.idp.claims("user_a");
    claims["aud"] = json!("anything");
    assert_accepted(&unchecked, &unchecked.key.sign(&claims)).await;

    let app = spawn_app_with(Setup {
        configure: Box::new(|config, _| {
            config.auth.audiences = vec!["quotes-api".into(), "other-api".into()];
        }),
        ..Setup::default()
    })
    .await;
    let mut claims = app.idp.claims("user_a");
    assert_rejected(&app, &app.key.sign(&claims)).await; // no aud
    claims["aud"] = json!("someone-else");
    assert_rejected(&app, &app.key.sign(&claims)).await;
    claims["aud"] = json!(["someone-else", "other-api"]);
    assert_accepted(&app, &app.key.sign(&claims)).await;
    claims["aud"] = json!("quotes-api");
    assert_accepted(&app, &app.key.sign(&claims)).await;
}

#[tokio::test]
async fn authorized_parties_require_a_matching_azp_when_configured() {
    let app = spawn_app_with(Setup {
        configure: Box::new(|config, _| {
            config.auth.authorized_parties = vec![
                "https://app.example.com".into(),
                "http://localhost:3000".into(),
            ];
        }),
        ..Setup::default()
    })
    .await;
    let mut claims = app.idp.claims("user_a");
    assert_accepted(&app, &app.key.sign(&claims)).await;
    claims["azp"] = json!("https://evil.example.com");
    assert_rejected(&app, &app.key.sign(&claims)).await;
    claims.as_object_mut().unwrap().remove("azp");
    assert_rejected(&app, &app.key.sign(&claims)).await;
}

#[tokio::test]
async fn tokens_over_8_kib_are_rejected_unparsed() {
    let app = spawn_app().await;
    let mut claims = app.idp.claims("user_a");
    claims["padding"] = json!("p".repeat(5500));
    let token = app.key.sign(&claims);
    assert!(token.len() < 8192);
    assert_accepted(&app, &token).await;

    claims["padding"] = json!("p".repeat(6200));
    let token = app.key.sign(&claims);
    assert!(token.len() > 8192);
    let problem = assert_rejected(&app, &token).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("8 KiB"),
        "{problem}"
    );
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    let app = spawn_app().await;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(app.key.kid.clone());
    header.crit = Some(vec!["exp".to_owned()]);
    assert_rejected(
        &app,
        &app.key.sign_with_header(&header, &app.idp.claims("user_a")),
    )
    .await;
}

#[tokio::test]
async fn unusable_jwks_entries_are_skipped_and_the_rest_work() {
    let good = TestKey::rsa();
    let weak: Value = serde_json::from_str(include_str!("keys/rsa-1024.jwk.json")).unwrap();
    let mut encryption = TestKey::load("rsa-2048-b", "enc", Algorithm::RS256, false);
    encryption.jwk["use"] = json!("enc");
    let app = spawn_app_with(Setup {
        keys: vec![good.clone()],
        ..Setup::default()
    })
    .await;
    app.idp.set_raw_keys(vec![
        json!({"kty": "XYZ", "kid": "alien"}),
        json!({"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"}),
        json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}),
        json!({"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AQ", "y": "AQ"}),
        weak,
        encryption.jwk.clone(),
        good.jwk.clone(),
    ]);
    // An unknown kid makes the API read the new document.
    let fresh = TestKey::load("rsa-2048-b", "fresh", Algorithm::RS256, false);
    assert_rejected(&app, &fresh.sign(&app.idp.claims("user_a"))).await;
    assert_accepted(&app, &good.sign(&app.idp.claims("user_a"))).await;

    // Skipped keys are unknown keys, not keys with a bad signature.
    let claims = app.idp.claims("user_a");
    let forged_weak = format!(
        "{}x",
        unsigned(&json!({"alg": "RS256", "kid": "weak"}), &claims)
    );
    for token in [forged_weak, encryption.sign(&claims)] {
        let problem = assert_rejected(&app, &token).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("does not publish"),
            "{problem}"
        );
    }
}

#[tokio::test]
async fn keys_are_discovered_from_the_openid_configuration() {
    let app = spawn_app().await;
    assert!(app.idp.discovery_fetches() >= 1);
    assert_eq!(app.idp.jwks_path(), "/keys/jwks.json");
    assert_accepted(&app, &app.token("user_a")).await;
}

#[tokio::test]
async fn without_discovery_the_well_known_jwks_is_used() {
    let key = TestKey::rsa();
    let idp = TestIdp::start(&[&key]);
    idp.disable_discovery();
    let issuer = idp.issuer.clone();
    let app = spawn_app_with(Setup {
        configure: Box::new(move |config, _| config.auth.issuer = issuer),
        ..Setup::default()
    })
    .await;
    assert_eq!(idp.jwks_fetches(), 1);
    assert_eq!(
        app.get_quote(&key.sign(&idp.claims("user_a")))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn an_explicit_jwks_url_is_used_as_is() {
    let key = TestKey::rsa();
    let idp = TestIdp::start(&[&key]);
    let jwks_url = format!("{}{}", idp.issuer, idp.jwks_path());
    let app = spawn_app_with(Setup {
        configure: Box::new(move |config, _| {
            config.auth.jwks_url = Some(jwks_url.parse().unwrap());
        }),
        ..Setup::default()
    })
    .await;
    assert_eq!(idp.jwks_fetches(), 1);
    assert_eq!(idp.discovery_fetches(), 0);
    // The issuer rule still applies: these tokens name another issuer.
    assert_rejected(&app, &key.sign(&idp.claims("user_a"))).await;
    let mut claims = idp.claims("user_a");
    claims["iss"] = json!(app.idp.issuer);
    assert_accepted(&app, &key.sign(&claims)).await;
}

#[tokio::test]
async fn while_no_key_was_ever_loaded_tokens_get_503_and_service_recovers() {
    let app = spawn_app_with(Setup {
        wait_ready: false,
        configure: Box::new(|_, idp| idp.set_mode(JwksMode::Fail)),
        ..Setup::default()
    })
    .await;
    // Once the provider has been asked and failed, the service says so.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.idp.discovery_fetches() + app.idp.jwks_fetches() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the keys were never asked for"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_problem(
        app.client.get(app.url("/readyz")).send().await.unwrap(),
        503,
    )
    .await;
    let problem = assert_problem(app.get_quote(&app.token("user_a")).await, 503).await;
    assert_eq!(problem["type"], "urn:quotes:problem:unavailable");

    app.idp.set_mode(JwksMode::Serve);
    app.wait_until_ready().await;
    assert_accepted(&app, &app.token("user_a")).await;
}

#[tokio::test]
async fn a_slow_or_garbage_jwks_endpoint_does_not_hold_requests() {
    let app = spawn_app().await;
    app.idp.set_mode(JwksMode::Slow(Duration::from_secs(10)));
    let stranger = TestKey::load("rsa-2048-b", "slow-kid", Algorithm::RS256, false);
    let started = std::time::Instant::now();
    assert_rejected(&app, &stranger.sign(&app.idp.claims("user_a"))).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited {:?}",
        started.elapsed()
    );
    // Known keys keep working meanwhile.
    assert_accepted(&app, &app.token("user_a")).await;

    app.idp.set_mode(JwksMode::Garbage);
    assert_accepted(&app, &app.token("user_a")).await;
}

#[tokio::test]
async fn keys_are_refreshed_on_max_age_and_removed_keys_stop_working() {
    let app = spawn_app_with(Setup {
        configure: Box::new(|_, idp| idp.set_cache_control("public, max-age=1")),
        key_settings: quotes_core::auth::KeyStoreSettings {
            min_max_age: Duration::from_secs(1),
            ..crate::helpers::test_key_settings()
        },
        ..Setup::default()
    })
    .await;
    let token = app.token("user_a");
    assert_accepted(&app, &token).await;
    let successor = TestKey::load("rsa-2048-b", "rsa-2", Algorithm::RS256, false);
    app.idp.set_keys(&[&successor]);

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.get_quote(&token).await.status() != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "the removed key still works"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(app.idp.jwks_fetches() >= 2);
    assert_accepted(&app, &successor.sign(&app.idp.claims("user_a"))).await;
}

#[tokio::test]
async fn failed_background_refreshes_keep_the_known_keys() {
    let app = spawn_app_with(Setup {
        configure: Box::new(|_, idp| idp.set_cache_control("max-age=1")),
        key_settings: quotes_core::auth::KeyStoreSettings {
            min_max_age: Duration::from_secs(1),
            cooldown: Duration::from_secs(1),
            ..crate::helpers::test_key_settings()
        },
        ..Setup::default()
    })
    .await;
    let token = app.token("user_a");
    for mode in [JwksMode::Fail, JwksMode::Garbage, JwksMode::Huge] {
        app.idp.set_mode(mode);
        let fetches = app.idp.jwks_fetches();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while app.idp.jwks_fetches() < fetches + 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "{mode:?}: no refresh was attempted"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_accepted(&app, &token).await;
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200, "{mode:?}: keys kept, still ready");
    }
}

#[tokio::test]
async fn an_oversized_jwks_document_is_refused() {
    let app = spawn_app().await;
    let successor = TestKey::load("rsa-2048-b", "rsa-2", Algorithm::RS256, false);
    app.idp.set_keys(&[&app.key, &successor]);
    app.idp.set_mode(JwksMode::Huge);
    let problem = assert_rejected(&app, &successor.sign(&app.idp.claims("user_a"))).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("does not publish"),
        "{problem}"
    );
    assert_accepted(&app, &app.token("user_a")).await;
}

#[tokio::test]
async fn a_token_accepted_once_still_expires() {
    let clock = Arc::new(TestClock::default());
    let app = spawn_app_with(Setup {
        clock: Some(clock.clone()),
        ..Setup::default()
    })
    .await;
    let mut claims = app.idp.claims("user_a");
    // Expired a little: accepted within the 5 s leeway, and remembered.
    claims["exp"] = json!(now() - 3);
    let token = app.key.sign(&claims);
    assert_accepted(&app, &token).await;
    assert_accepted(&app, &token).await;
    // Past the leeway by the verifier's clock.
    clock.advance(Duration::from_secs(4));
    let problem = assert_rejected(&app, &token).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("expired"),
        "{problem}"
    );
}
