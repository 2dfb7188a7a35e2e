//! Clerk, first-class: the publishable key, the PEM public key, and the
//! session-token rules of Clerk's own SDK.

use jsonwebtoken::{Algorithm, Header};
use quotes_test_support::{auth_from_flags, clerk_publishable_key};
use serde_json::{Value, json};

use crate::helpers::{JwksMode, Setup, TestApp, TestKey, assert_problem, spawn_app_with};

/// An app whose issuer comes from a publishable key for the test provider's
/// host, with the keys read over plain HTTP from the test provider. Returns
/// the app and the derived issuer.
async fn spawn_clerk_app() -> (TestApp, String) {
    spawn_clerk_app_with(&[]).await
}

/// As [`spawn_clerk_app`], with more of `quotes-api`'s flags.
async fn spawn_clerk_app_with(more: &'static [&'static str]) -> (TestApp, String) {
    let app = spawn_app_with(Setup {
        configure: Box::new(move |config, idp| {
            let host = idp.issuer.trim_start_matches("http://").to_owned();
            let jwks = format!("{}/keys/jwks.json", idp.issuer);
            let key = clerk_publishable_key(&host);
            let mut flags = vec![
                "--clerk-publishable-key",
                &key,
                "--auth-jwks-url",
                &jwks,
                "--auth-authorized-parties",
                "http://localhost:3000",
            ];
            flags.extend_from_slice(more);
            config.auth = auth_from_flags(&flags).unwrap();
        }),
        ..Setup::default()
    })
    .await;
    let issuer = format!("https://{}", app.idp.issuer.trim_start_matches("http://"));
    (app, issuer)
}

fn session_claims(app: &TestApp, issuer: &str) -> Value {
    let mut claims = app.idp.claims("user_2abc");
    claims["iss"] = json!(issuer);
    claims["sts"] = json!("active");
    claims["v"] = json!(2);
    claims
}

fn sign_with_header_fields(key: &TestKey, claims: &Value, fields: &[(&str, &str)]) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    for (name, value) in fields {
        if *name == "typ" {
            header.typ = Some((*value).to_owned());
        } else {
            header.extras.insert(*name, *value);
        }
    }
    key.sign_with_header(&header, claims)
}

#[tokio::test]
async fn session_tokens_pass_and_other_clerk_tokens_do_not() {
    let (app, issuer) = spawn_clerk_app().await;
    let claims = session_claims(&app, &issuer);
    for cat in [None, Some("cl_B7d4PD111AAA"), Some("cl_I7d4PD111III")] {
        let fields: Vec<(&str, &str)> = cat.map(|c| ("cat", c)).into_iter().collect();
        let token = sign_with_header_fields(&app.key, &claims, &fields);
        assert_eq!(app.get_quote(&token).await.status(), 404, "cat {cat:?}");
    }
    for fields in [
        [("cat", "cl_B7d4PD222AAA")],
        [("cat", "cl_B7d4PD333AAA")],
        [("typ", "at+jwt")],
    ] {
        let token = sign_with_header_fields(&app.key, &claims, &fields);
        let problem = assert_problem(app.get_quote(&token).await, 401).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("of a kind this API does not accept"),
            "{problem}"
        );
    }

    let mut pending = claims.clone();
    pending["sts"] = json!("pending");
    assert_problem(app.get_quote(&app.key.sign(&pending)).await, 401).await;

    let mut wrong_party = claims.clone();
    wrong_party["azp"] = json!("https://evil.example.com");
    assert_problem(app.get_quote(&app.key.sign(&wrong_party)).await, 401).await;

    // The publishable key names the issuer: the test provider's own `iss` is not it.
    assert_problem(app.get_quote(&app.token("user_2abc")).await, 401).await;
}

#[tokio::test]
async fn the_clerk_rules_apply_only_in_clerk_mode() {
    let app = spawn_app_with(Setup::default()).await;
    let token = sign_with_header_fields(
        &app.key,
        &app.idp.claims("user_a"),
        &[("cat", "cl_B7d4PD222AAA")],
    );
    assert_eq!(app.get_quote(&token).await.status(), 404);
}

#[tokio::test]
async fn the_pem_key_verifies_with_no_network_at_all() {
    let pem = include_str!("keys/rsa-2048.pub.pem").replace('\n', "\\n");
    let app = spawn_app_with(Setup {
        configure: Box::new(move |config, idp| {
            idp.set_mode(JwksMode::Fail);
            config.auth = auth_from_flags(&[
                "--auth-issuer",
                &idp.issuer,
                &format!("--clerk-jwt-key={pem}"),
            ])
            .unwrap();
        }),
        ..Setup::default()
    })
    .await;
    // Whatever kid Clerk stamps, the configured key verifies it.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("ins_2abcdef".to_owned());
    let token = app.key.sign_with_header(&header, &app.idp.claims("user_a"));
    assert_eq!(
        app.put_quote(&token, "No network needed.").await.status(),
        201
    );

    let stranger = TestKey::load("rsa-2048-b", "ins_2abcdef", Algorithm::RS256, false);
    assert_problem(
        app.get_quote(&stranger.sign(&app.idp.claims("user_a")))
            .await,
        401,
    )
    .await;
    assert_eq!(app.idp.jwks_fetches(), 0);
    assert_eq!(app.idp.discovery_fetches(), 0);
}

#[tokio::test]
async fn clerk_oauth_jwts_pass_with_their_scopes_when_accepted() {
    let (app, issuer) =
        spawn_clerk_app_with(&["--auth-accepted-tokens", "session_token,oauth_token"]).await;
    // As Clerk's OAuth applications issue them: `client_id` and `scope`,
    // no `azp`, no `aud`.
    let mut claims = app.idp.claims("user_2oauth");
    claims["iss"] = json!(issuer);
    let object = claims.as_object_mut().unwrap();
    object.remove("azp");
    object.remove("sid");
    claims["client_id"] = json!("client_2partner");
    claims["scope"] = json!("openid quotes:read");
    claims["jti"] = json!("oat_jti_1");
    let token = sign_with_header_fields(&app.key, &claims, &[("typ", "at+jwt")]);
    assert_eq!(app.get_quote(&token).await.status(), 404);
    let problem = assert_problem(app.put_quote(&token, "No.").await, 403).await;
    assert_eq!(problem["missing_scopes"], json!(["quotes:write"]));

    // A v2 session token of an organisation member acting for an agent
    // still holds every scope: it is the app's own.
    let mut session = session_claims(&app, &issuer);
    session["o"] = json!({"id": "org_2acme", "rol": "admin", "slg": "acme"});
    session["act"] = json!({"sub": "user_2agent"});
    session["fva"] = json!([4, -1]);
    let token = sign_with_header_fields(&app.key, &session, &[("cat", "cl_B7d4PD111AAA")]);
    assert_eq!(app.put_quote(&token, "Ours.").await.status(), 201);
    session["o"] = json!("org_2acme");
    let token = sign_with_header_fields(&app.key, &session, &[("cat", "cl_B7d4PD111AAA")]);
    assert_problem(app.get_quote(&token).await, 401).await;
}
