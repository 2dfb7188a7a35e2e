//! Opaque tokens, read for the API by their issuer: Clerk's OAuth tokens
//! and API keys through (a loopback stand-in of) Clerk's Backend API, any
//! provider's through (a stand-in of) an RFC 7662 introspection endpoint;
//! up, down, stuck and garbled.

use quotes_test_support::{
    Behaviour, INTROSPECTION_CLIENT, SECRET_KEY, VerifierStandIn, auth_from_flags,
    clerk_publishable_key, now,
};
use serde_json::json;

use crate::helpers::{Setup, TestApp, assert_problem, spawn_app_with};

/// A Clerk app whose opaque tokens `stand_in` reads, accepting `kinds`.
async fn clerk_app(stand_in: &VerifierStandIn, kinds: &str) -> TestApp {
    let api_url = stand_in.url.clone();
    let kinds = kinds.to_owned();
    spawn_app_with(Setup {
        configure: Box::new(move |config, idp| {
            let host = idp.issuer.trim_start_matches("http://").to_owned();
            let jwks = format!("{}/keys/jwks.json", idp.issuer);
            config.auth = auth_from_flags(&[
                "--clerk-publishable-key",
                &clerk_publishable_key(&host),
                "--auth-jwks-url",
                &jwks,
                "--clerk-secret-key",
                SECRET_KEY,
                "--clerk-api-url",
                &api_url,
                "--auth-accepted-tokens",
                &kinds,
            ])
            .unwrap();
        }),
        ..Setup::default()
    })
    .await
}

/// An app whose provider's opaque tokens are introspected at `stand_in`.
async fn introspecting_app(stand_in: &VerifierStandIn) -> TestApp {
    let url = format!("{}/introspect", stand_in.url);
    spawn_app_with(Setup {
        configure: Box::new(move |config, idp| {
            let (client, secret) = INTROSPECTION_CLIENT;
            config.auth = auth_from_flags(&[
                "--auth-issuer",
                &idp.issuer,
                "--auth-introspection-url",
                &url,
                "--auth-introspection-client-id",
                client,
                "--auth-introspection-client-secret",
                secret,
            ])
            .unwrap();
        }),
        ..Setup::default()
    })
    .await
}

fn in_ten_minutes_ms() -> i64 {
    (now() + 600) * 1000
}

#[tokio::test]
async fn clerk_oauth_tokens_and_api_keys_are_checked_with_the_backend_api() {
    let clerk = VerifierStandIn::start();
    let app = clerk_app(&clerk, "session_token,oauth_token,api_key").await;
    clerk.answer(
        "oat_reader",
        json!({"object": "clerk_idp_oauth_access_token", "subject": "user_oat",
               "client_id": "client_cli", "scopes": ["quotes:read"],
               "revoked": false, "expired": false, "expiration": in_ten_minutes_ms()}),
    );
    clerk.answer(
        "ak_writer",
        json!({"object": "api_key", "subject": "user_ak", "scopes": ["quotes:read", "quotes:write"],
               "revoked": false, "expired": false, "expiration": null}),
    );
    clerk.answer(
        "ak_organisation",
        json!({"object": "api_key", "subject": "org_2abc", "scopes": ["quotes:read"],
               "revoked": false, "expired": false, "expiration": null}),
    );
    clerk.answer(
        "oat_revoked",
        json!({"subject": "user_oat", "client_id": "client_cli", "scopes": ["quotes:read"],
               "revoked": true, "expired": false, "expiration": in_ten_minutes_ms()}),
    );

    assert_eq!(app.put_quote("ak_writer", "Keyed.").await.status(), 201);
    assert_eq!(app.get_quote("ak_writer").await.status(), 200);
    assert_eq!(app.get_quote("oat_reader").await.status(), 404);
    let problem = assert_problem(app.put_quote("oat_reader", "No.").await, 403).await;
    assert_eq!(problem["missing_scopes"], json!(["quotes:write"]));
    let problem = assert_problem(app.get_quote("ak_organisation").await, 403).await;
    assert_eq!(problem["type"], "urn:quotes:problem:no-user");
    for refused in ["oat_revoked", "oat_unknown", "ak_unknown"] {
        let problem = assert_problem(app.get_quote(refused).await, 401).await;
        assert_eq!(
            problem["type"], "urn:quotes:problem:invalid-token",
            "{refused}"
        );
    }

    // Answers are kept: a grant and a refusal each cost one call.
    let calls = clerk.calls();
    for _ in 0..3 {
        assert_eq!(app.get_quote("ak_writer").await.status(), 200);
        assert_eq!(app.get_quote("oat_unknown").await.status(), 401);
    }
    assert_eq!(clerk.calls(), calls);
}

#[tokio::test]
async fn opaque_kinds_not_accepted_are_refused_without_a_call() {
    let clerk = VerifierStandIn::start();
    let app = clerk_app(&clerk, "session_token").await;
    clerk.answer(
        "ak_writer",
        json!({"subject": "user_ak", "scopes": ["quotes:read"], "revoked": false,
               "expired": false, "expiration": null}),
    );
    for token in ["ak_writer", "oat_anything"] {
        let problem = assert_problem(app.get_quote(token).await, 401).await;
        assert_eq!(
            problem["detail"],
            "The token is of a kind this API does not accept."
        );
    }
    assert_eq!(clerk.calls(), 0);
}

#[tokio::test]
async fn while_the_backend_api_is_down_stuck_or_garbled_requests_get_503_and_come_back() {
    let clerk = VerifierStandIn::start();
    let app = clerk_app(&clerk, "oauth_token").await;
    let answer = json!({"subject": "user_oat", "client_id": "client_cli",
        "scopes": ["quotes:read"], "revoked": false, "expired": false,
        "expiration": in_ten_minutes_ms()});
    clerk.answer("oat_known", answer.clone());
    clerk.answer("oat_later", answer);
    assert_eq!(app.get_quote("oat_known").await.status(), 404);

    for behaviour in [Behaviour::Failing, Behaviour::Garbage, Behaviour::Stuck] {
        clerk.behave(behaviour);
        let response = app.get_quote("oat_later").await;
        assert_eq!(response.headers()["retry-after"], "1", "{behaviour:?}");
        let problem = assert_problem(response, 503).await;
        assert_eq!(problem["type"], "urn:quotes:problem:unavailable");
        assert_eq!(
            problem["detail"],
            "The identity provider could not check the token right now; try again shortly.",
        );
        // A token checked before the trouble still works.
        assert_eq!(app.get_quote("oat_known").await.status(), 404);
    }
    // Nothing of the trouble was kept: once the service is back, so is
    // the token.
    clerk.behave(Behaviour::Serve);
    assert_eq!(app.get_quote("oat_later").await.status(), 404);
}

#[tokio::test]
async fn introspection_reads_any_providers_opaque_tokens() {
    let endpoint = VerifierStandIn::start();
    let app = introspecting_app(&endpoint).await;
    let issuer = app.idp.issuer.clone();
    let exp = now() + 600;
    endpoint.answer(
        "opaque-writer",
        json!({"active": true, "sub": "intro_user", "client_id": "cli", "iss": issuer,
               "scope": "quotes:write quotes:read", "exp": exp, "token_type": "Bearer"}),
    );
    endpoint.answer(
        "opaque-machine",
        json!({"active": true, "client_id": "svc", "scope": "quotes:read", "exp": exp}),
    );
    endpoint.answer(
        "opaque-expired",
        json!({"active": true, "sub": "intro_user", "scope": "quotes:read", "exp": now() - 10}),
    );
    endpoint.answer(
        "opaque-elsewhere",
        json!({"active": true, "sub": "intro_user", "scope": "quotes:read",
               "iss": "https://another.example"}),
    );
    endpoint.answer(
        "opaque-no-active",
        json!({"sub": "intro_user", "scope": "quotes:read"}),
    );
    endpoint.answer(
        "opaque-bad-scope",
        json!({"active": true, "sub": "intro_user", "scope": ["quotes:read"]}),
    );

    assert_eq!(
        app.put_quote("opaque-writer", "Introspected.")
            .await
            .status(),
        201
    );
    assert_eq!(app.get_quote("opaque-writer").await.status(), 200);
    let problem = assert_problem(app.get_quote("opaque-machine").await, 403).await;
    assert_eq!(problem["type"], "urn:quotes:problem:no-user");
    for refused in [
        "opaque-expired",
        "opaque-elsewhere",
        "opaque-unknown",
        "opaque-bad-scope",
    ] {
        assert_problem(app.get_quote(refused).await, 401).await;
    }
    // An answer without `active` is not an answer: nothing is granted, and
    // the caller may try again.
    assert_problem(app.get_quote("opaque-no-active").await, 503).await;

    endpoint.stop().await;
    assert_problem(app.get_quote("opaque-fresh").await, 503).await;
    // What was granted before the endpoint went away holds until it is
    // due to be asked again.
    assert_eq!(app.get_quote("opaque-writer").await.status(), 200);
}
