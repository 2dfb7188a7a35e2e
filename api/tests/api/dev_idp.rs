//! The development identity provider: on only when asked, on loopback
//! only, and trusted through the same discovery and JWKS path as any
//! provider.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use quotes_api::dev_idp::{Clients, DevIdp, DevIdpSettings, Resource, issuer_for};
use serde_json::Value;

use crate::helpers::{Setup, TempPath, TestApp, assert_problem, spawn_app_with};

async fn spawn_dev_app(key_file: &TempPath) -> TestApp {
    spawn_dev_app_with(DevIdpSettings::new(key_file.0.clone())).await
}

async fn spawn_dev_app_with(settings: DevIdpSettings) -> TestApp {
    spawn_app_with(Setup {
        configure: Box::new(move |config, _| {
            config.dev_idp = Some(settings);
        }),
        ..Setup::default()
    })
    .await
}

fn dev_token(app: &TestApp, key_file: &TempPath, user: &str) -> String {
    let addr = app.address.trim_start_matches("http://").parse().unwrap();
    let settings = DevIdpSettings::new(key_file.0.clone());
    DevIdp::load(&settings, issuer_for(addr))
        .unwrap()
        .mint(user)
        .unwrap()
}

#[tokio::test]
async fn the_api_trusts_its_development_provider_and_nothing_else() {
    let key_file = TempPath::new("dev-idp.pem");
    let app = spawn_dev_app(&key_file).await;

    let token = dev_token(&app, &key_file, "dev_alice");
    assert_eq!(
        app.put_quote(&token, "Local and offline.").await.status(),
        201
    );
    assert_eq!(app.get_quote(&token).await.status(), 200);

    // The test's external provider is not the issuer any more.
    assert_eq!(app.get_quote(&app.token("dev_alice")).await.status(), 401);

    let discovery: Value = app
        .client
        .get(app.url("/dev-idp/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], format!("{}/dev-idp", app.address));
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/dev-idp/jwks.json", app.address)
    );
}

#[tokio::test]
async fn the_signing_key_is_kept_so_tokens_survive_restarts() {
    let key_file = TempPath::new("dev-idp.pem");
    let first = spawn_dev_app(&key_file).await;
    let jwks = |app: &TestApp| {
        let request = app.client.get(app.url("/dev-idp/jwks.json"));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let keys = jwks(&first).await;
    drop(first);
    let second = spawn_dev_app(&key_file).await;
    assert_eq!(jwks(&second).await, keys);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file.0).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key file is private: {mode:o}");
    }
}

#[tokio::test]
async fn the_provider_is_absent_unless_enabled() {
    let app = crate::helpers::spawn_app().await;
    let response = app
        .client
        .get(app.url("/dev-idp/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

// The sign-in flow, as a browser app drives it: authorize, sign in, exchange.

/// RFC 7636 appendix B: a verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const CLIENT_ID: &str = "quotes-web";
const REDIRECT_URI: &str = "http://localhost:5173/callback";

/// The parameters of a valid authorization request.
fn authorize_params() -> Vec<(&'static str, &'static str)> {
    vec![
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("state", "state-123"),
        ("nonce", "nonce-456"),
        ("scope", "openid profile quotes:read quotes:write"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

/// `params` with `name` set to `value`, or removed when `value` is `None`.
fn with<'a>(
    mut params: Vec<(&'a str, &'a str)>,
    name: &'a str,
    value: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    params.retain(|(key, _)| *key != name);
    if let Some(value) = value {
        params.push((name, value));
    }
    params
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn get(app: &TestApp, path: &str, query: &[(&str, &str)]) -> reqwest::Response {
    let url = url::Url::parse_with_params(&app.url(path), query).unwrap();
    app.client.get(url).send().await.unwrap()
}

async fn post_form(app: &TestApp, path: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .unwrap()
}

/// Where a 303 sends the browser, and its query parameters.
fn redirected(response: &reqwest::Response) -> (url::Url, HashMap<String, String>) {
    assert_eq!(response.status(), 303, "expected a redirect");
    let location = response.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    let params = url.query_pairs().into_owned().collect();
    (url, params)
}

/// Signs in as `user` with the request `params`; returns the code.
/// The consent boxes a browser sends as the page shows them: every API
/// scope asked for, ticked.
fn ticked<'a>(params: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    params
        .iter()
        .filter(|(name, _)| *name == "scope")
        .flat_map(|(_, scope)| scope.split_whitespace())
        .filter(|scope| scope.starts_with("quotes:"))
        .map(|scope| (scope, "granted"))
        .collect()
}

/// Signs `user` in with `params`, granting every API scope asked for.
async fn sign_in(app: &TestApp, params: &[(&str, &str)], user: &str) -> String {
    let mut pairs = params.to_vec();
    pairs.extend(ticked(params));
    submit_sign_in(app, &pairs, user).await
}

/// Posts the sign-in page's form, `pairs` and the user, and returns the code.
async fn submit_sign_in(app: &TestApp, pairs: &[(&str, &str)], user: &str) -> String {
    let mut pairs = pairs.to_vec();
    pairs.push(("user", user));
    let response = post_form(app, "/dev-idp/authorize", &pairs).await;
    let (url, query) = redirected(&response);
    assert!(url.as_str().starts_with(REDIRECT_URI), "{url}");
    assert_eq!(query["state"], "state-123");
    query["code"].clone()
}

async fn exchange(
    app: &TestApp,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> reqwest::Response {
    post_form(
        app,
        "/dev-idp/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", CLIENT_ID),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// Asserts an RFC 6749 §5.2 error answer.
async fn assert_oauth_error(response: reqwest::Response, error: &str) {
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn a_browser_signs_in_and_the_api_accepts_its_token() {
    let key_file = TempPath::new("dev-idp.pem");
    let app = spawn_dev_app(&key_file).await;

    let page = get(&app, "/dev-idp/authorize", &authorize_params()).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<label for=\"user\">User name</label>"),
        "{html}"
    );
    assert!(html.contains("id=\"user\""), "{html}");
    assert!(html.contains(">Sign in</button>"), "{html}");

    let code = sign_in(&app, &authorize_params(), "alice").await;
    let response = exchange(&app, &code, REDIRECT_URI, VERIFIER).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], "openid profile quotes:read quotes:write");

    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        app.put_quote(access_token, "Signed in by hand.")
            .await
            .status(),
        201
    );
    let quote: Value = app.get_quote(access_token).await.json().await.unwrap();
    assert_eq!(quote["quote"], "Signed in by hand.");

    // Signing in as alice and `dev-token alice` are the same user.
    let printed = dev_token(&app, &key_file, "alice");
    assert_eq!(app.get_quote(&printed).await.status(), 200);

    let id_token = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["sub"], "alice");
    assert_eq!(id_token["aud"], CLIENT_ID);
    assert_eq!(id_token["nonce"], "nonce-456");
    assert_eq!(id_token["iss"], format!("{}/dev-idp", app.address));
}

#[tokio::test]
async fn discovery_names_the_sign_in_endpoints() {
    let key_file = TempPath::new("dev-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let discovery: Value = get(&app, "/dev-idp/.well-known/openid-configuration", &[])
        .await
        .json()
        .await
        .unwrap();
    let issuer = format!("{}/dev-idp", app.address);
    assert_eq!(
        discovery["authorization_endpoint"],
        format!("{issuer}/authorize")
    );
    assert_eq!(discovery["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(
        discovery["end_session_endpoint"],
        format!("{issuer}/logout")
    );
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        discovery["introspection_endpoint"],
        format!("{issuer}/introspect")
    );
    assert_eq!(discovery["revocation_endpoint"], format!("{issuer}/revoke"));
    assert_eq!(
        discovery["grant_types_supported"],
        serde_json::json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code"
        ])
    );
    assert_eq!(
        discovery["device_authorization_endpoint"],
        format!("{issuer}/device_authorization")
    );
    assert_eq!(
        discovery["prompt_values_supported"],
        serde_json::json!(["none", "login"])
    );
    assert_eq!(
        discovery["scopes_supported"],
        serde_json::json!([
            "openid",
            "profile",
            "offline_access",
            "quotes:read",
            "quotes:write"
        ])
    );
    assert_eq!(
        discovery["token_endpoint_auth_methods_supported"],
        serde_json::json!(["none", "client_secret_basic", "client_secret_post"])
    );
    for endpoint in ["introspection", "revocation"] {
        assert_eq!(
            discovery[format!("{endpoint}_endpoint_auth_methods_supported")],
            serde_json::json!(["client_secret_basic", "client_secret_post"]),
            "{endpoint}"
        );
    }
}

#[tokio::test]
async fn a_code_is_bound_to_its_verifier_and_redirect_uri_and_used_once() {
    let key_file = TempPath::new("dev-idp.pem");
    let app = spawn_dev_app(&key_file).await;

    let code = sign_in(&app, &authorize_params(), "bob").await;
    let wrong_verifier = "x".repeat(43);
    assert_oauth_error(
        exchange(&app, &code, REDIRECT_URI, &wrong_verifier).await,
        "invalid_grant",
    )
    .await;
    // A failed attempt uses the code up too.
    assert_oauth_error(
        exchange(&app, &code, REDIRECT_URI, VERIFIER).await,
        "invalid_grant",
    )
    .await;

    let code = sign_in(&app, &authorize_params(), "bob").await;
    assert_eq!(
        exchange(&app, &code, REDIRECT_URI, VERIFIER).await.status(),
        200
    );
    assert_oauth_error(
        exchange(&app, &code, REDIRECT_URI, VERIFIER).await,
        "invalid_grant",
    )
    .await;

    let code = sign_in(&app, &authorize_params(), "bob").await;
    assert_oauth_error(
        exchange(&app, &code, "http://localhost:5173/other", VERIFIER).await,
        "invalid_grant",
    )
    .await;

    assert_oauth_error(
        exchange(&app, "no-such-code", REDIRECT_URI, VERIFIER).await,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn malformed_token_requests_get_oauth_errors() {
    let key_file = TempPath::new("dev-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    assert_oauth_error(
        post_form(
            &app,
            "/dev-idp/token",
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "x"),
            ],
        )
        .await,
        "unsupported_grant_type",
    )
    .await;
    assert_oauth_error(
        post_form(
            &app,
            "/dev-idp/token",
            &[("grant_type", "authorization_code"), ("code", "abc")],
        )
        .await,
        "invalid_request",
    )
    .await;
    let code = sign_in(&app, &authorize_params(), "carol").await;
    assert_oauth_error(
        exchange(&app, &code, REDIRECT_URI, "too-short").await,
        "invalid_request",
    )
    .await;
    let json_body = app
        .client
        .post(app.url("/dev-idp/token"))
        .json(&serde_json::json!({ "grant_type": "authorization_code" }))
        .send()
        .await
        .unwrap();
    assert_oauth_error(json_body, "invalid_request").await;
}

#[tokio::test]
async fn pkce_is_required_and_only_s256() {
    let key_file = TempPath::new("dev-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    for params in [
        with(authorize_params(), "code_challenge_method", Some("plain")),
        with(authorize_params(), "code_challenge_method", None),
        with(authorize_params(), "code_challenge", None),
    ] {
        let response = get(&app, "/dev-idp/authorize", &params).await;
        let (url, query) = redirected(&response);
        assert!(url.as_str().starts_with(REDIRECT_URI), "{url}");
        assert_eq!(query["error"], "invalid_request", "{params:?}");
        assert_eq!(query["state"], "state-123");
        assert!(!query.contains_key("code"));

        // The form is checked again: hidden fields are not trusted.
        let mut pairs = params.clone();
        pairs.push(("user", "mallory"));
        let response = post_form(&app, "/dev-idp/authorize", &pairs).await;
        let (_, query) = redirected(&response);
        assert_eq!(query["error"], "invalid_request", "{params:?}");
    }

    let token_flow = with(authorize_params(), "response_type", Some("token"));
    let (_, query) = redirected(&get(&app, "/dev-idp/authorize", &token_flow).await);
    assert_eq!(query["error"], "unsupported_response_type");
}

#[tokio::test]
async fn the_provider_never_redirects_off_this_machine() {
    let key_file = TempPath::new("dev-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    for params in [
        with(
            authorize_params(),
            "redirect_uri",
            Some("https://evil.example/cb"),
        ),
        with(authorize_params(), "redirect_uri", None),
        with(authorize_params(), "client_id", None),
    ] {
        // Even with another error that would otherwise be redirected.
        let params = with(params, "code_challenge_method", Some("plain"));
        let response = get(&app, "/dev-idp/authorize", &params).await;
        assert_eq!(response.status(), 400, "{params:?}");
        assert!(response.headers().get("location").is_none());
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(response.text().await.unwrap().contains("Cannot sign in"));

        let mut pairs = params.clone();
        pairs.push(("user", "mallory"));
        let response = post_form(&app, "/dev-idp/authorize", &pairs).await;
        assert_eq!(response.status(), 400, "{params:?}");
        assert!(response.headers().get("location").is_none());
    }
}

#[tokio::test]
async fn bad_user_names_are_refused_on_the_page() {
    let key_file = TempPath::new("dev-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    for name in ["   ", &"a".repeat(65), "al\u{1b}ice"] {
        let mut pairs = authorize_params();
        pairs.push(("user", name));
        let response = post_form(&app, "/dev-idp/authorize", &pairs).await;
        assert_eq!(response.status(), 400, "{name:?}");
        assert!(response.headers().get("location").is_none());
        let html = response.text().await.unwrap();
        assert!(html.contains(">Sign in</button>"), "{html}");
    }
}

#[tokio::test]
async fn recent_names_are_offered_after_a_sign_in() {
    let key_file = TempPath::new("dev-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let page = get(&app, "/dev-idp/authorize", &authorize_params()).await;
    assert!(!page.text().await.unwrap().contains("dave"));

    sign_in(&app, &authorize_params(), "  dave  ").await;
    sign_in(&app, &authorize_params(), "<erin>").await;
    let html = get(&app, "/dev-idp/authorize", &authorize_params())
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("value=\"dave\""), "{html}");
    assert!(html.contains("value=\"&lt;erin&gt;\""), "{html}");
    assert!(!html.contains("<erin>"), "{html}");

    // A recent name is one click: the button sends `pick`.
    let mut pairs = authorize_params();
    pairs.push(("user", ""));
    pairs.push(("pick", "dave"));
    let response = post_form(&app, "/dev-idp/authorize", &pairs).await;
    let (_, query) = redirected(&response);
    let tokens: Value = exchange(&app, &query["code"], REDIRECT_URI, VERIFIER)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["sub"],
        "dave"
    );
}

#[tokio::test]
async fn the_token_endpoint_accepts_calls_from_any_origin() {
    let key_file = TempPath::new("dev-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let preflight = |path: &str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("origin", "http://localhost:5173")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let response = preflight("/dev-idp/token").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );

    let code = sign_in(&app, &authorize_params(), "frank").await;
    let response = app
        .client
        .post(app.url("/dev-idp/token"))
        .header("origin", "http://localhost:5173")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", CLIENT_ID),
            ("code_verifier", VERIFIER),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );

    // The API itself keeps its own list of origins.
    let response = preflight("/me/quote").await.unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn logout_returns_only_to_this_machine() {
    let key_file = TempPath::new("dev-idp.pem");
    let app = spawn_dev_app(&key_file).await;

    let response = get(
        &app,
        "/dev-idp/logout",
        &[
            ("post_logout_redirect_uri", "http://127.0.0.1:5173/"),
            ("state", "bye"),
        ],
    )
    .await;
    let (url, query) = redirected(&response);
    assert_eq!(url.host_str(), Some("127.0.0.1"));
    assert_eq!(query["state"], "bye");

    let response = get(
        &app,
        "/dev-idp/logout",
        &[("post_logout_redirect_uri", "https://evil.example/")],
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());

    let response = get(&app, "/dev-idp/logout", &[]).await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("You are signed out")
    );
}

#[tokio::test]
async fn the_sign_in_endpoints_are_absent_unless_enabled() {
    let app = crate::helpers::spawn_app().await;
    for path in ["/dev-idp/authorize", "/dev-idp/logout"] {
        assert_eq!(get(&app, path, &[]).await.status(), 404, "{path}");
    }
    assert_eq!(post_form(&app, "/dev-idp/token", &[]).await.status(), 404);
}

#[tokio::test]
async fn only_loopback_host_names_reach_the_provider() {
    let key_file = TempPath::new("rebinding-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let discovery = app.url("/dev-idp/.well-known/openid-configuration");
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        let response = app
            .client
            .get(&discovery)
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{host}");
    }
    // A page on another site that had its name re-pointed at 127.0.0.1,
    // another container's name for us, or the right name on another port.
    for host in [
        format!("attacker.example:{port}"),
        format!("api:{port}"),
        "localhost".to_owned(),
        "127.0.0.1:1".to_owned(),
    ] {
        for path in [
            "/dev-idp/.well-known/openid-configuration",
            "/dev-idp/token",
            "/dev-idp/jwks.json",
        ] {
            let response = app
                .client
                .get(app.url(path))
                .header("host", &host)
                .send()
                .await
                .unwrap();
            let problem = assert_problem(response, 421).await;
            assert!(
                problem["detail"].as_str().unwrap().contains("localhost"),
                "{problem}"
            );
        }
    }
}

#[tokio::test]
async fn a_code_is_never_sent_into_the_provider_itself() {
    let key_file = TempPath::new("self-redirect-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    for own in [
        "/dev-idp/jwks.json",
        "/dev-idp",
        "/%64ev-idp/.well-known/openid-configuration",
    ] {
        let redirect_uri = format!("{}{own}", app.address);
        let params = with(authorize_params(), "redirect_uri", Some(&redirect_uri));
        let page = get(&app, "/dev-idp/authorize", &params).await;
        assert_eq!(page.status(), 400, "{own}");
        assert!(
            page.text().await.unwrap().contains("provider itself"),
            "{own}"
        );
        let sign_in = post_form(
            &app,
            "/dev-idp/authorize",
            &with(params, "user", Some("mallory")),
        )
        .await;
        assert_eq!(sign_in.status(), 400, "{own}");
        assert!(sign_in.headers().get("location").is_none(), "{own}");
    }
}

#[tokio::test]
async fn the_token_lifetime_follows_its_setting() {
    let key_file = TempPath::new("short-lived-idp.pem");
    let app = spawn_dev_app_with(DevIdpSettings {
        token_ttl: std::time::Duration::from_secs(90),
        ..DevIdpSettings::new(key_file.0.clone())
    })
    .await;

    let code = sign_in(&app, &authorize_params(), "grace").await;
    let tokens: Value = exchange(&app, &code, REDIRECT_URI, VERIFIER)
        .await
        .json()
        .await
        .unwrap();
    let refreshed: Value = refresh(&app, &tokens["refresh_token"], CLIENT_ID)
        .await
        .json()
        .await
        .unwrap();
    for tokens in [&tokens, &refreshed] {
        assert_eq!(tokens["expires_in"], 90);
        for token in ["access_token", "id_token"] {
            let claims = claims(tokens[token].as_str().unwrap());
            let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
            assert_eq!(lifetime, 90, "{token}");
        }
    }
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.put_quote(access_token, "Brief.").await.status(), 201);
}

// Sessions and refresh tokens: what lets an app stay signed in.

/// The provider's session cookie.
const SESSION_COOKIE: &str = "quotes_dev_idp_session";

/// The `Set-Cookie` of `response` for the session cookie: its value and
/// its attributes as sent.
fn session_cookie(response: &reqwest::Response) -> (String, Vec<String>) {
    let header = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap())
        .find(|value| value.starts_with(&format!("{SESSION_COOKIE}=")))
        .expect("a session cookie");
    let mut parts = header.split(';').map(str::trim);
    let (_, value) = parts.next().unwrap().split_once('=').unwrap();
    (value.to_owned(), parts.map(str::to_owned).collect())
}

/// Signs in as `user` from the page; returns the code and the session
/// cookie's value.
async fn sign_in_with_session(app: &TestApp, user: &str) -> (String, String) {
    let mut pairs = authorize_params();
    pairs.extend(ticked(&authorize_params()));
    pairs.push(("user", user));
    let response = post_form(app, "/dev-idp/authorize", &pairs).await;
    let (value, _) = session_cookie(&response);
    let (_, query) = redirected(&response);
    (query["code"].clone(), value)
}

/// `GET path?query` with the session cookie `session`, as a browser sends it.
async fn get_with_session(
    app: &TestApp,
    path: &str,
    query: &[(&str, &str)],
    session: &str,
) -> reqwest::Response {
    let url = url::Url::parse_with_params(&app.url(path), query).unwrap();
    app.client
        .get(url)
        .header("cookie", format!("theme=dark; {SESSION_COOKIE}={session}"))
        .send()
        .await
        .unwrap()
}

/// The tokens a code is worth.
async fn tokens_for(app: &TestApp, code: &str) -> Value {
    let response = exchange(app, code, REDIRECT_URI, VERIFIER).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The refresh grant, as the app sends it.
async fn refresh(app: &TestApp, refresh_token: &Value, client_id: &str) -> reqwest::Response {
    post_form(
        app,
        "/dev-idp/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str().unwrap()),
            ("client_id", client_id),
        ],
    )
    .await
}

fn prompt_none() -> Vec<(&'static str, &'static str)> {
    with(authorize_params(), "prompt", Some("none"))
}

#[tokio::test]
async fn signing_in_starts_a_session_kept_in_a_cookie_of_the_provider() {
    let key_file = TempPath::new("session-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let mut pairs = authorize_params();
    pairs.push(("user", "alice"));
    let response = post_form(&app, "/dev-idp/authorize", &pairs).await;
    assert_eq!(response.status(), 303);

    let (value, mut attributes) = session_cookie(&response);
    attributes.sort();
    assert_eq!(attributes, ["HttpOnly", "Path=/dev-idp", "SameSite=Lax"]);
    let id = URL_SAFE_NO_PAD.decode(&value).expect("base64url");
    assert!(id.len() >= 16, "at least 128 bits: {value}");

    // Every sign-in starts a new session.
    let (_, again) = sign_in_with_session(&app, "alice").await;
    assert_ne!(again, value);
}

#[tokio::test]
async fn prompt_none_answers_from_the_session_without_a_page() {
    let key_file = TempPath::new("prompt-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let (_, session) = sign_in_with_session(&app, "alice").await;

    let response = get_with_session(&app, "/dev-idp/authorize", &prompt_none(), &session).await;
    let (url, query) = redirected(&response);
    assert!(url.as_str().starts_with(REDIRECT_URI), "{url}");
    assert_eq!(query["state"], "state-123");
    let tokens = tokens_for(&app, &query["code"]).await;
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(claims(access_token)["sub"], "alice");
    assert_eq!(
        app.put_quote(access_token, "Still here.").await.status(),
        201
    );

    // Without `prompt=none` the page is shown, session or not.
    let page = get_with_session(&app, "/dev-idp/authorize", &authorize_params(), &session).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(">Sign in</button>"));
}

#[tokio::test]
async fn prompt_none_without_a_session_answers_login_required() {
    let key_file = TempPath::new("no-session-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let unknown = URL_SAFE_NO_PAD.encode([7_u8; 32]);
    for response in [
        get(&app, "/dev-idp/authorize", &prompt_none()).await,
        get_with_session(&app, "/dev-idp/authorize", &prompt_none(), &unknown).await,
    ] {
        let (url, query) = redirected(&response);
        assert!(url.as_str().starts_with(REDIRECT_URI), "{url}");
        assert_eq!(query["error"], "login_required");
        assert!(!query["error_description"].is_empty());
        assert_eq!(query["state"], "state-123");
        assert!(!query.contains_key("code"));
    }
}

#[tokio::test]
async fn a_refresh_token_rotates_and_a_replay_revokes_its_family() {
    let key_file = TempPath::new("refresh-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let code = sign_in(&app, &authorize_params(), "bob").await;
    let first = tokens_for(&app, &code).await;
    assert!(first["refresh_token"].is_string(), "{first}");

    let response = refresh(&app, &first["refresh_token"], CLIENT_ID).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let second: Value = response.json().await.unwrap();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["token_type"], "Bearer");
    assert_eq!(second["expires_in"], 3600);
    let access_token = second["access_token"].as_str().unwrap();
    assert_eq!(claims(access_token)["sub"], "bob");
    let id_token = claims(second["id_token"].as_str().unwrap());
    assert_eq!(id_token["sub"], "bob");
    assert_eq!(id_token["aud"], CLIENT_ID);
    assert_eq!(app.put_quote(access_token, "Renewed.").await.status(), 201);

    // The spent token, presented again, is refused and takes its whole
    // family with it: the newest token stops working too.
    assert_oauth_error(
        refresh(&app, &first["refresh_token"], CLIENT_ID).await,
        "invalid_grant",
    )
    .await;
    assert_oauth_error(
        refresh(&app, &second["refresh_token"], CLIENT_ID).await,
        "invalid_grant",
    )
    .await;

    assert_oauth_error(
        refresh(&app, &Value::from("no-such-token"), CLIENT_ID).await,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn a_refresh_token_works_only_for_the_client_it_was_issued_to() {
    let key_file = TempPath::new("refresh-client-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let code = sign_in(&app, &authorize_params(), "carol").await;
    let tokens = tokens_for(&app, &code).await;

    assert_oauth_error(
        refresh(&app, &tokens["refresh_token"], "another-app").await,
        "invalid_grant",
    )
    .await;
    // Refused, not spent: its own client still renews with it.
    assert_eq!(
        refresh(&app, &tokens["refresh_token"], CLIENT_ID)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn logout_ends_the_session_and_its_refresh_tokens() {
    let key_file = TempPath::new("logout-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let (code, session) = sign_in_with_session(&app, "dave").await;
    let signed_in = tokens_for(&app, &code).await;
    let response = get_with_session(&app, "/dev-idp/authorize", &prompt_none(), &session).await;
    let (_, query) = redirected(&response);
    let silent = tokens_for(&app, &query["code"]).await;
    // A sign-in elsewhere (another browser) is not this session's.
    let other = tokens_for(&app, &sign_in(&app, &authorize_params(), "dave").await).await;

    // The app proves the session is its own with the ID token it got.
    let response = get_with_session(
        &app,
        "/dev-idp/logout",
        &[
            ("post_logout_redirect_uri", "http://127.0.0.1:5173/"),
            ("id_token_hint", silent["id_token"].as_str().unwrap()),
        ],
        &session,
    )
    .await;
    assert_eq!(response.status(), 303);
    let (value, mut attributes) = session_cookie(&response);
    attributes.sort();
    assert_eq!(value, "");
    assert_eq!(
        attributes,
        ["HttpOnly", "Max-Age=0", "Path=/dev-idp", "SameSite=Lax"]
    );

    for tokens in [&signed_in, &silent] {
        assert_oauth_error(
            refresh(&app, &tokens["refresh_token"], CLIENT_ID).await,
            "invalid_grant",
        )
        .await;
    }
    assert_eq!(
        refresh(&app, &other["refresh_token"], CLIENT_ID)
            .await
            .status(),
        200
    );
    let response = get_with_session(&app, "/dev-idp/authorize", &prompt_none(), &session).await;
    let (_, query) = redirected(&response);
    assert_eq!(query["error"], "login_required");
    assert_eq!(query["state"], "state-123");

    // Logging out without a session still clears the cookie.
    let response = get(&app, "/dev-idp/logout", &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(session_cookie(&response).0, "");
}

/// `POST path` with a form, as a browser sends it from a page of `origin`.
async fn post_from(
    app: &TestApp,
    path: &str,
    pairs: &[(&str, &str)],
    origin: &str,
    fetch_site: Option<&str>,
    session: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", origin)
        .body(form(pairs));
    if let Some(site) = fetch_site {
        request = request.header("sec-fetch-site", site);
    }
    if let Some(session) = session {
        request = request.header("cookie", format!("{SESSION_COOKIE}={session}"));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn only_the_providers_own_page_can_sign_a_browser_in() {
    let key_file = TempPath::new("csrf-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let mut pairs = authorize_params();
    pairs.push(("user", "mallory"));
    for (origin, site) in [
        ("http://evil.example", None),
        ("null", None),
        ("http://localhost:5173", Some("same-site")),
        (app.address.as_str(), Some("cross-site")),
    ] {
        let response = post_from(&app, "/dev-idp/authorize", &pairs, origin, site, None).await;
        assert_eq!(response.status(), 403, "{origin} {site:?}");
        assert!(response.headers().get("set-cookie").is_none());
        assert!(response.headers().get("location").is_none());
    }
    // The provider's own page, as a browser sends it.
    let response = post_from(
        &app,
        "/dev-idp/authorize",
        &pairs,
        &app.address,
        Some("same-origin"),
        None,
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(session_cookie(&response).0.len(), 43);
}

#[tokio::test]
async fn a_logout_the_app_cannot_prove_is_confirmed_by_the_person() {
    let key_file = TempPath::new("confirm-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let (_, session) = sign_in_with_session(&app, "erin").await;
    let someone_else = tokens_for(&app, &sign_in(&app, &authorize_params(), "mallory").await).await;
    let back = "http://127.0.0.1:5173/";
    let still_signed_in = || async {
        let response = get_with_session(&app, "/dev-idp/authorize", &prompt_none(), &session).await;
        redirected(&response).1.contains_key("code")
    };

    // A bare link, or one with another user's ID token: a question, and
    // nothing ends.
    for hint in [None, someone_else["id_token"].as_str()] {
        let mut query = vec![("post_logout_redirect_uri", back), ("state", "s-1")];
        if let Some(hint) = hint {
            query.push(("id_token_hint", hint));
        }
        let response = get_with_session(&app, "/dev-idp/logout", &query, &session).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("set-cookie").is_none());
        let page = response.text().await.unwrap();
        assert!(page.contains("Sign out?"), "{page}");
        assert!(page.contains("<b>erin</b>"), "{page}");
        assert!(page.contains("name=\"post_logout_redirect_uri\""), "{page}");
        assert!(still_signed_in().await);
    }

    // The confirmation must come from the provider's own page.
    let confirm = [("post_logout_redirect_uri", back), ("state", "s-1")];
    let forged = post_from(
        &app,
        "/dev-idp/logout",
        &confirm,
        "http://evil.example",
        Some("cross-site"),
        Some(&session),
    )
    .await;
    assert_eq!(forged.status(), 403);
    assert!(still_signed_in().await);

    let confirmed = post_from(
        &app,
        "/dev-idp/logout",
        &confirm,
        &app.address,
        Some("same-origin"),
        Some(&session),
    )
    .await;
    let (url, query) = redirected(&confirmed);
    assert!(url.as_str().starts_with(back));
    assert_eq!(query["state"], "s-1");
    assert_eq!(session_cookie(&confirmed).0, "");
    assert!(!still_signed_in().await);
}

#[tokio::test]
async fn a_replayed_code_revokes_what_its_first_exchange_issued() {
    let key_file = TempPath::new("replay-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let code = sign_in(&app, &authorize_params(), "frank").await;
    let first = tokens_for(&app, &code).await;

    let replay = exchange(&app, &code, REDIRECT_URI, VERIFIER).await;
    assert_oauth_error(replay, "invalid_grant").await;
    assert_oauth_error(
        refresh(&app, &first["refresh_token"], CLIENT_ID).await,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn a_flood_of_sign_ins_leaves_a_users_session_alone() {
    let key_file = TempPath::new("flood-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let (code, session) = sign_in_with_session(&app, "grace").await;
    let mine = tokens_for(&app, &code).await;

    // 1,100 anonymous sign-ins, each exchanged, from 23 loopback addresses.
    let mut pairs = authorize_params();
    pairs.push(("user", "mallory"));
    let body = form(&pairs);
    let clients: Vec<reqwest::Client> = (2..25)
        .map(|host| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(std::net::IpAddr::from([127, 0, 0, host]))
                .build()
                .unwrap()
        })
        .collect();
    for round in 0..1100 {
        let client = &clients[round % clients.len()];
        let response = client
            .post(app.url("/dev-idp/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let (_, query) = redirected(&response);
        let exchanged = client
            .post(app.url("/dev-idp/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("grant_type", "authorization_code"),
                ("code", &query["code"]),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", CLIENT_ID),
                ("code_verifier", VERIFIER),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(exchanged.status(), 200);
    }

    let response = get_with_session(&app, "/dev-idp/authorize", &prompt_none(), &session).await;
    assert!(redirected(&response).1.contains_key("code"));
    assert_eq!(
        refresh(&app, &mine["refresh_token"], CLIENT_ID)
            .await
            .status(),
        200
    );
}

// What a token grants: API scopes the person consents to, the resource it
// is for, machines with a secret, introspection and revocation.

/// Registered clients: `reporter` may read, `backup` may read and write.
const CLIENTS: &str = "reporter:s3cret:quotes:read, backup:hunter2:quotes:read quotes:write";

async fn spawn_with_clients(key_file: &TempPath) -> TestApp {
    spawn_dev_app_with(DevIdpSettings {
        clients: Clients::parse(CLIENTS).unwrap(),
        ..DevIdpSettings::new(key_file.0.clone())
    })
    .await
}

fn header(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The names of a JSON object's fields, sorted.
fn fields(object: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = object
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names
}

/// Signs in as `user` from the page with the request `params`, leaving
/// the consent boxes `ticked` ticked; returns the code.
async fn sign_in_granting(
    app: &TestApp,
    params: &[(&str, &str)],
    user: &str,
    ticked: &[&str],
) -> String {
    let mut pairs = params.to_vec();
    pairs.extend(ticked.iter().map(|scope| (*scope, "granted")));
    submit_sign_in(app, &pairs, user).await
}

/// `authorize_params()` with `scope` set to `scope`.
fn asking_for(scope: &str) -> Vec<(&str, &str)> {
    with(authorize_params(), "scope", Some(scope))
}

/// How a client authenticates at the provider.
#[derive(Clone, Copy)]
enum Auth<'a> {
    /// `Authorization: Basic` (`client_secret_basic`).
    Basic(&'a str, &'a str),
    /// `client_id` and `client_secret` in the form (`client_secret_post`).
    Post(&'a str, &'a str),
    None,
}

/// `POST path` with the form `pairs`, authenticated as `auth` says.
async fn post_as(
    app: &TestApp,
    path: &str,
    auth: Auth<'_>,
    pairs: &[(&str, &str)],
) -> reqwest::Response {
    let mut pairs = pairs.to_vec();
    let mut request = app
        .client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded");
    match auth {
        Auth::Basic(id, secret) => request = request.basic_auth(id, Some(secret)),
        Auth::Post(id, secret) => {
            pairs.push(("client_id", id));
            pairs.push(("client_secret", secret));
        }
        Auth::None => {}
    }
    request.body(form(&pairs)).send().await.unwrap()
}

/// The client-credentials grant, with `extra` parameters.
async fn client_credentials(
    app: &TestApp,
    auth: Auth<'_>,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut pairs = vec![("grant_type", "client_credentials")];
    pairs.extend_from_slice(extra);
    post_as(app, "/dev-idp/token", auth, &pairs).await
}

/// What introspection says of `token`, asked by `backup`.
async fn introspect(app: &TestApp, token: &str) -> Value {
    let response = post_as(
        app,
        "/dev-idp/introspect",
        Auth::Basic("backup", "hunter2"),
        &[("token", token)],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

/// Asserts a `401 invalid_client` with a Basic challenge, which says
/// nothing of the secret sent.
async fn assert_invalid_client(response: reqwest::Response) {
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic ")
    );
    let body = response.text().await.unwrap();
    assert!(
        !body.contains("s3cret") && !body.contains("hunter2"),
        "{body}"
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "invalid_client", "{body}");
}

#[tokio::test]
async fn access_tokens_are_rfc_9068_jwts_with_the_scopes_granted() {
    let key_file = TempPath::new("at-jwt-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let params = asking_for("openid profile quotes:read quotes:write");
    let code = sign_in_granting(&app, &params, "alice", &["quotes:read", "quotes:write"]).await;
    let tokens = tokens_for(&app, &code).await;
    assert_eq!(tokens["scope"], "openid profile quotes:read quotes:write");

    let access_token = tokens["access_token"].as_str().unwrap();
    let jwt_header = header(access_token);
    assert_eq!(jwt_header["typ"], "at+jwt");
    assert_eq!(jwt_header["alg"], "ES256");
    assert!(jwt_header["kid"].is_string());
    let access = claims(access_token);
    assert_eq!(
        fields(&access),
        [
            "client_id",
            "exp",
            "iat",
            "iss",
            "jti",
            "nbf",
            "scope",
            "sub"
        ]
    );
    assert_eq!(access["iss"], format!("{}/dev-idp", app.address));
    assert_eq!(access["sub"], "alice");
    assert_eq!(access["client_id"], CLIENT_ID);
    assert_eq!(access["scope"], "quotes:read quotes:write");
    assert_eq!(access["nbf"], access["iat"]);
    assert_eq!(
        access["exp"].as_u64().unwrap() - access["iat"].as_u64().unwrap(),
        3600
    );
    assert!(access["jti"].as_str().unwrap().len() >= 22, "{access}");

    // The ID token is as it was: a JWT for the client.
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(header(id_token)["typ"], "JWT");
    assert_eq!(claims(id_token)["aud"], CLIENT_ID);

    // Every access token has a `jti` of its own.
    let renewed: Value = refresh(&app, &tokens["refresh_token"], CLIENT_ID)
        .await
        .json()
        .await
        .unwrap();
    let renewed_claims = claims(renewed["access_token"].as_str().unwrap());
    assert_ne!(renewed_claims["jti"], access["jti"]);
    assert_eq!(renewed_claims["scope"], "quotes:read quotes:write");

    // Today's verifier takes them as it took the tokens before.
    assert_eq!(app.put_quote(access_token, "Scoped.").await.status(), 201);

    // `dev-token alice` prints the same shape, with both scopes.
    let printed = dev_token(&app, &key_file, "alice");
    assert_eq!(header(&printed)["typ"], "at+jwt");
    let printed = claims(&printed);
    assert_eq!(printed["scope"], "quotes:read quotes:write");
    assert_eq!(printed["client_id"], "dev-token");
    assert_eq!(fields(&printed), fields(&access));
}

#[tokio::test]
async fn a_resource_binds_the_audience_and_any_other_is_an_invalid_target() {
    let key_file = TempPath::new("resource-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let api = app.address.clone();

    // Named in the authorization request: every token of the grant is bound.
    let params = with(asking_for("openid quotes:read"), "resource", Some(&api));
    let page = get(&app, "/dev-idp/authorize", &params).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("name=\"resource\""));
    let code = sign_in_granting(&app, &params, "alice", &["quotes:read"]).await;
    let tokens = tokens_for(&app, &code).await;
    assert_eq!(claims(tokens["access_token"].as_str().unwrap())["aud"], api);
    // The ID token stays the client's.
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["aud"],
        CLIENT_ID
    );
    let renewed: Value = refresh(&app, &tokens["refresh_token"], CLIENT_ID)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        claims(renewed["access_token"].as_str().unwrap())["aud"],
        api
    );
    assert_eq!(
        app.get_quote(tokens["access_token"].as_str().unwrap())
            .await
            .status(),
        404
    );

    // Named in the token request only (with a trailing slash: the same URL).
    let code = sign_in(&app, &authorize_params(), "alice").await;
    let with_slash = format!("{api}/");
    let response = post_form(
        &app,
        "/dev-idp/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", CLIENT_ID),
            ("code_verifier", VERIFIER),
            ("resource", &with_slash),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(claims(tokens["access_token"].as_str().unwrap())["aud"], api);

    // Named nowhere: no `aud`.
    let code = sign_in(&app, &authorize_params(), "alice").await;
    let tokens = tokens_for(&app, &code).await;
    assert!(claims(tokens["access_token"].as_str().unwrap())["aud"].is_null());

    // Any other resource: the error goes back to the client.
    for other in ["https://api.example/", "http://localhost:1/", "not a url"] {
        let params = with(authorize_params(), "resource", Some(other));
        let (url, query) = redirected(&get(&app, "/dev-idp/authorize", &params).await);
        assert!(url.as_str().starts_with(REDIRECT_URI), "{url}");
        assert_eq!(query["error"], "invalid_target", "{other}");
        assert_eq!(query["state"], "state-123");
        assert!(!query.contains_key("code"));
        let mut pairs = params.clone();
        pairs.push(("user", "mallory"));
        let (_, query) = redirected(&post_form(&app, "/dev-idp/authorize", &pairs).await);
        assert_eq!(query["error"], "invalid_target", "{other}");
    }
    let code = sign_in(&app, &authorize_params(), "alice").await;
    let elsewhere = post_form(
        &app,
        "/dev-idp/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", CLIENT_ID),
            ("code_verifier", VERIFIER),
            ("resource", "https://api.example/"),
        ],
    )
    .await;
    // Refused before the code is spent: it still works without it.
    assert_oauth_error(elsewhere, "invalid_target").await;
    assert_eq!(
        exchange(&app, &code, REDIRECT_URI, VERIFIER).await.status(),
        200
    );
}

#[tokio::test]
async fn the_resource_follows_its_setting() {
    let key_file = TempPath::new("resource-setting-idp.pem");
    let app = spawn_dev_app_with(DevIdpSettings {
        resource: Some(Resource::new("https://quotes.example/").unwrap()),
        ..DevIdpSettings::new(key_file.0.clone())
    })
    .await;
    let params = with(
        authorize_params(),
        "resource",
        Some("https://quotes.example/"),
    );
    let code = sign_in(&app, &params, "alice").await;
    let tokens = tokens_for(&app, &code).await;
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["aud"],
        "https://quotes.example/"
    );
    let own_origin = with(authorize_params(), "resource", Some(&app.address));
    let (_, query) = redirected(&get(&app, "/dev-idp/authorize", &own_origin).await);
    assert_eq!(query["error"], "invalid_target");
}

#[tokio::test]
async fn the_person_may_untick_scopes_and_a_forged_box_adds_nothing() {
    let key_file = TempPath::new("consent-idp.pem");
    let app = spawn_dev_app(&key_file).await;

    // The page offers a ticked box for each API scope asked for, and none
    // for a scope it does not know.
    let both = asking_for("openid quotes:read quotes:write quotes:admin");
    let html = get(&app, "/dev-idp/authorize", &both)
        .await
        .text()
        .await
        .unwrap();
    for scope in ["quotes:read", "quotes:write"] {
        assert!(
            html.contains(&format!(
                "type=\"checkbox\" id=\"{}\" name=\"{scope}\" value=\"granted\" checked>",
                scope.replace(':', "-")
            )),
            "{html}"
        );
    }
    assert!(!html.contains("name=\"quotes:admin\""), "{html}");
    let html = get(&app, "/dev-idp/authorize", &asking_for("openid profile"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("type=\"checkbox\""), "{html}");

    // Only write left ticked.
    let code = sign_in_granting(&app, &both, "alice", &["quotes:write"]).await;
    let tokens = tokens_for(&app, &code).await;
    assert_eq!(tokens["scope"], "openid quotes:write");
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["scope"],
        "quotes:write"
    );
    // Renewals keep what was granted.
    let renewed: Value = refresh(&app, &tokens["refresh_token"], CLIENT_ID)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(renewed["scope"], "openid quotes:write");
    assert_eq!(
        claims(renewed["access_token"].as_str().unwrap())["scope"],
        "quotes:write"
    );

    // Everything unticked still signs in, with no API scope.
    let code = sign_in_granting(&app, &both, "alice", &[]).await;
    let tokens = tokens_for(&app, &code).await;
    assert_eq!(tokens["scope"], "openid");
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["scope"],
        ""
    );

    // A box for a scope the request did not ask for grants nothing.
    let read_only = asking_for("openid quotes:read");
    let code = sign_in_granting(
        &app,
        &read_only,
        "mallory",
        &["quotes:read", "quotes:write"],
    )
    .await;
    let tokens = tokens_for(&app, &code).await;
    assert_eq!(tokens["scope"], "openid quotes:read");
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["scope"],
        "quotes:read"
    );

    // A refused user name shows the boxes as they were left.
    let mut pairs = both.clone();
    pairs.extend([("quotes:read", "granted"), ("user", " ")]);
    let response = post_form(&app, "/dev-idp/authorize", &pairs).await;
    assert_eq!(response.status(), 400);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("name=\"quotes:read\" value=\"granted\" checked>"),
        "{html}"
    );
    assert!(
        html.contains("name=\"quotes:write\" value=\"granted\">"),
        "{html}"
    );
}

#[tokio::test]
async fn prompt_none_grants_the_api_scopes_asked_for() {
    let key_file = TempPath::new("silent-scopes-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let (_, session) = sign_in_with_session(&app, "alice").await;
    let params = with(
        asking_for("openid quotes:read unknown"),
        "prompt",
        Some("none"),
    );
    let response = get_with_session(&app, "/dev-idp/authorize", &params, &session).await;
    let (_, query) = redirected(&response);
    let tokens = tokens_for(&app, &query["code"]).await;
    assert_eq!(tokens["scope"], "openid quotes:read");
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["scope"],
        "quotes:read"
    );
}

#[tokio::test]
async fn registered_clients_get_tokens_for_themselves() {
    let key_file = TempPath::new("machines-idp.pem");
    let app = spawn_with_clients(&key_file).await;

    for auth in [
        Auth::Basic("backup", "hunter2"),
        Auth::Post("backup", "hunter2"),
    ] {
        let response = client_credentials(&app, auth, &[]).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let tokens: Value = response.json().await.unwrap();
        assert_eq!(
            fields(&tokens),
            ["access_token", "expires_in", "scope", "token_type"]
        );
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["scope"], "quotes:read quotes:write");
        let access_token = tokens["access_token"].as_str().unwrap();
        assert_eq!(header(access_token)["typ"], "at+jwt");
        let access = claims(access_token);
        assert_eq!(
            fields(&access),
            [
                "client_id",
                "exp",
                "iat",
                "iss",
                "jti",
                "nbf",
                "scope",
                "sub"
            ]
        );
        assert_eq!(access["sub"], "backup");
        assert_eq!(access["client_id"], "backup");
        assert_eq!(access["scope"], "quotes:read quotes:write");
    }

    // Narrowed by `scope`, bound by `resource`.
    let response = client_credentials(
        &app,
        Auth::Basic("backup", "hunter2"),
        &[("scope", "quotes:write"), ("resource", &app.address)],
    )
    .await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["scope"], "quotes:write");
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["scope"], "quotes:write");
    assert_eq!(access["aud"], app.address);

    // Never more than the client is registered for, nor an unknown scope.
    for scope in ["quotes:write", "quotes:read openid", "quotes:admin"] {
        assert_oauth_error(
            client_credentials(&app, Auth::Basic("reporter", "s3cret"), &[("scope", scope)]).await,
            "invalid_scope",
        )
        .await;
    }
    assert_oauth_error(
        client_credentials(
            &app,
            Auth::Basic("reporter", "s3cret"),
            &[("resource", "https://api.example/")],
        )
        .await,
        "invalid_target",
    )
    .await;

    // A wrong secret, an unknown client, or a public client: 401.
    for auth in [
        Auth::Basic("backup", "s3cret"),
        Auth::Post("backup", "hunter"),
        Auth::Basic("quotes-web", "hunter2"),
    ] {
        assert_invalid_client(client_credentials(&app, auth, &[]).await).await;
    }
    assert_invalid_client(client_credentials(&app, Auth::None, &[("client_id", CLIENT_ID)]).await)
        .await;
    assert_invalid_client(client_credentials(&app, Auth::None, &[]).await).await;
    let bearer = app
        .client
        .post(app.url("/dev-idp/token"))
        .header("authorization", "Bearer abc")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_invalid_client(bearer).await;
    // One way of authenticating at a time.
    let both = app
        .client
        .post(app.url("/dev-idp/token"))
        .basic_auth("backup", Some("hunter2"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "backup"),
            ("client_secret", "hunter2"),
        ]))
        .send()
        .await
        .unwrap();
    assert_oauth_error(both, "invalid_request").await;
}

#[tokio::test]
async fn a_registered_client_proves_itself_for_every_grant() {
    let key_file = TempPath::new("confidential-code-idp.pem");
    let app = spawn_with_clients(&key_file).await;
    let params = with(authorize_params(), "client_id", Some("backup"));
    let exchange_as = |code: String, auth: Auth<'static>| {
        let app = &app;
        async move {
            post_as(
                app,
                "/dev-idp/token",
                auth,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT_URI),
                    ("code_verifier", VERIFIER),
                ],
            )
            .await
        }
    };
    let mut pairs = params.clone();
    pairs.push(("user", "alice"));
    let code_for = |pairs: Vec<(&'static str, &'static str)>| {
        let app = &app;
        async move {
            let response = post_form(app, "/dev-idp/authorize", &pairs).await;
            redirected(&response).1["code"].clone()
        }
    };
    // Without its secret, the code is refused.
    let code = code_for(pairs.clone()).await;
    let mut public = vec![("client_id", "backup")];
    public.extend([
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", VERIFIER),
    ]);
    assert_invalid_client(post_form(&app, "/dev-idp/token", &public).await).await;
    // With it (HTTP Basic, no client_id in the form), tokens.
    let code = code_for(pairs.clone()).await;
    let response = exchange_as(code, Auth::Basic("backup", "hunter2")).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["client_id"],
        "backup"
    );
    // Another registered client cannot spend it.
    let code = code_for(pairs).await;
    assert_oauth_error(
        exchange_as(code, Auth::Basic("reporter", "s3cret")).await,
        "invalid_grant",
    )
    .await;
    // Its refresh token too needs the secret.
    assert_invalid_client(refresh(&app, &tokens["refresh_token"], "backup").await).await;
    let response = post_as(
        &app,
        "/dev-idp/token",
        Auth::Post("backup", "hunter2"),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn introspection_tells_registered_clients_whether_a_token_is_active() {
    let key_file = TempPath::new("introspect-idp.pem");
    let app = spawn_with_clients(&key_file).await;
    let params = with(
        asking_for("openid quotes:read"),
        "resource",
        Some(&app.address),
    );
    let code = sign_in_granting(&app, &params, "alice", &["quotes:read"]).await;
    let tokens = tokens_for(&app, &code).await;
    let access_token = tokens["access_token"].as_str().unwrap();
    let access = claims(access_token);

    let active = introspect(&app, access_token).await;
    assert_eq!(
        fields(&active),
        [
            "active",
            "aud",
            "client_id",
            "exp",
            "iat",
            "iss",
            "jti",
            "nbf",
            "scope",
            "sub",
            "token_type"
        ]
    );
    assert_eq!(active["active"], true);
    assert_eq!(active["token_type"], "Bearer");
    for claim in [
        "sub",
        "client_id",
        "scope",
        "exp",
        "iat",
        "iss",
        "aud",
        "jti",
    ] {
        assert_eq!(active[claim], access[claim], "{claim}");
    }

    // A machine's token, asked with the secret in the form.
    let machine: Value = client_credentials(&app, Auth::Basic("reporter", "s3cret"), &[])
        .await
        .json()
        .await
        .unwrap();
    let response = post_as(
        &app,
        "/dev-idp/introspect",
        Auth::Post("reporter", "s3cret"),
        &[
            ("token", machine["access_token"].as_str().unwrap()),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["sub"], "reporter");
    assert!(answer["aud"].is_null());

    // Anything else is inactive, and says nothing more.
    let other_issuer = app.token("alice");
    let forged = format!("{}x", &access_token[..access_token.len() - 1]);
    for token in [
        "",
        "not-a-token",
        tokens["id_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
        other_issuer.as_str(),
        forged.as_str(),
    ] {
        assert_eq!(
            introspect(&app, token).await,
            serde_json::json!({"active": false}),
            "{token}"
        );
    }
}

#[tokio::test]
async fn introspection_is_for_registered_clients_only() {
    let key_file = TempPath::new("introspect-clients-idp.pem");
    let app = spawn_with_clients(&key_file).await;
    let access_token = dev_token(&app, &key_file, "alice");
    let access_token = access_token.as_str();
    assert_eq!(introspect(&app, access_token).await["active"], true);

    // Nobody else: no credentials, a wrong secret, a public client.
    for auth in [
        Auth::None,
        Auth::Basic("backup", "wrong"),
        Auth::Post(CLIENT_ID, ""),
    ] {
        assert_invalid_client(
            post_as(
                &app,
                "/dev-idp/introspect",
                auth,
                &[("token", access_token)],
            )
            .await,
        )
        .await;
    }
    assert_oauth_error(
        post_as(
            &app,
            "/dev-idp/introspect",
            Auth::Basic("backup", "hunter2"),
            &[],
        )
        .await,
        "invalid_request",
    )
    .await;
    let get = app
        .client
        .get(app.url("/dev-idp/introspect"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST");
}

#[tokio::test]
async fn a_revoked_access_token_is_inactive_at_introspection() {
    let key_file = TempPath::new("revoke-access-idp.pem");
    let app = spawn_with_clients(&key_file).await;
    let code = sign_in(&app, &authorize_params(), "alice").await;
    let tokens = tokens_for(&app, &code).await;
    let access_token = tokens["access_token"].as_str().unwrap();
    let machine: Value = client_credentials(&app, Auth::Basic("reporter", "s3cret"), &[])
        .await
        .json()
        .await
        .unwrap();
    let machine_token = machine["access_token"].as_str().unwrap();
    assert_eq!(introspect(&app, machine_token).await["active"], true);

    let response = post_as(
        &app,
        "/dev-idp/revoke",
        Auth::Basic("reporter", "s3cret"),
        &[
            ("token", machine_token),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        introspect(&app, machine_token).await,
        serde_json::json!({"active": false})
    );
    // Others are untouched; revoking again, or anything unknown, is a 200.
    assert_eq!(introspect(&app, access_token).await["active"], true);
    for token in [machine_token, "unknown", ""] {
        let response = post_as(
            &app,
            "/dev-idp/revoke",
            Auth::Post("backup", "hunter2"),
            &[("token", token), ("token_type_hint", "something_else")],
        )
        .await;
        assert_eq!(response.status(), 200, "{token}");
    }
    // Only registered clients may revoke.
    for auth in [Auth::None, Auth::Basic("reporter", "hunter2")] {
        let response = post_as(&app, "/dev-idp/revoke", auth, &[("token", access_token)]).await;
        assert_invalid_client(response).await;
    }
    assert_eq!(introspect(&app, access_token).await["active"], true);
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family() {
    let key_file = TempPath::new("revoke-family-idp.pem");
    let app = spawn_with_clients(&key_file).await;
    let code = sign_in(&app, &authorize_params(), "alice").await;
    let first = tokens_for(&app, &code).await;
    let second: Value = refresh(&app, &first["refresh_token"], CLIENT_ID)
        .await
        .json()
        .await
        .unwrap();
    let other = tokens_for(&app, &sign_in(&app, &authorize_params(), "alice").await).await;

    // The spent first token still names the family.
    let response = post_as(
        &app,
        "/dev-idp/revoke",
        Auth::Basic("backup", "hunter2"),
        &[
            ("token", first["refresh_token"].as_str().unwrap()),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_oauth_error(
        refresh(&app, &second["refresh_token"], CLIENT_ID).await,
        "invalid_grant",
    )
    .await;
    // The access tokens the family issued are revoked with it.
    for tokens in [&first, &second] {
        assert_eq!(
            introspect(&app, tokens["access_token"].as_str().unwrap()).await,
            serde_json::json!({"active": false})
        );
    }
    // Another sign-in's family is untouched.
    assert_eq!(
        introspect(&app, other["access_token"].as_str().unwrap()).await["active"],
        true
    );
    assert_eq!(
        refresh(&app, &other["refresh_token"], CLIENT_ID)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn oversized_forms_get_oauth_errors_at_every_client_endpoint() {
    let key_file = TempPath::new("bounds-idp.pem");
    let app = spawn_with_clients(&key_file).await;
    let huge = "x".repeat(20 * 1024);
    for path in ["/dev-idp/token", "/dev-idp/introspect", "/dev-idp/revoke"] {
        let response = post_as(
            &app,
            path,
            Auth::Basic("backup", "hunter2"),
            &[("token", &huge), ("grant_type", "client_credentials")],
        )
        .await;
        assert_oauth_error(response, "invalid_request").await;
    }
    // An over-long `scope` or `resource` at the token endpoint, too.
    let long = "quotes:read ".repeat(200);
    assert_oauth_error(
        client_credentials(&app, Auth::Basic("backup", "hunter2"), &[("scope", &long)]).await,
        "invalid_request",
    )
    .await;
}

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const DEVICE_CLIENT: &str = "quotes-cli";

/// Starts a device authorization for `scope`; returns the answer.
async fn device_authorization(app: &TestApp, scope: &str) -> Value {
    let resource = app.address.clone();
    let response = post_form(
        app,
        "/dev-idp/device_authorization",
        &[
            ("client_id", DEVICE_CLIENT),
            ("scope", scope),
            ("resource", &resource),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

/// Polls the token endpoint once with `device_code`.
async fn poll(app: &TestApp, device_code: &Value) -> reqwest::Response {
    post_form(
        app,
        "/dev-idp/token",
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code.as_str().unwrap()),
            ("client_id", DEVICE_CLIENT),
        ],
    )
    .await
}

/// Posts the device page's form as the page would, from its own origin.
async fn answer_device(app: &TestApp, pairs: &[(&str, &str)]) -> reqwest::Response {
    post_from(
        app,
        "/dev-idp/device",
        pairs,
        &app.address,
        Some("same-origin"),
        None,
    )
    .await
}

#[tokio::test]
async fn a_device_signs_in_with_a_user_code_entered_on_the_page() {
    let key_file = TempPath::new("device-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let started = device_authorization(&app, "openid quotes:read quotes:write").await;
    let issuer = format!("{}/dev-idp", app.address);
    assert_eq!(started["verification_uri"], format!("{issuer}/device"));
    assert_eq!(started["interval"], 5);
    assert_eq!(started["expires_in"], 600);
    let user_code = started["user_code"].as_str().unwrap().to_owned();
    assert_eq!(user_code.len(), 9, "{user_code}");
    assert_eq!(
        started["verification_uri_complete"],
        format!("{issuer}/device?user_code={user_code}")
    );

    assert_oauth_error(
        poll(&app, &started["device_code"]).await,
        "authorization_pending",
    )
    .await;
    // Polled again at once: faster than the interval.
    assert_oauth_error(poll(&app, &started["device_code"]).await, "slow_down").await;

    let page = get(&app, "/dev-idp/device", &[]).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("name=\"user_code\""));
    // The code as a person might type it.
    let typed = user_code.replace('-', "").to_lowercase();
    let page = get(&app, "/dev-idp/device", &[("user_code", &typed)]).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains(&user_code), "{page}");
    assert!(
        page.contains("name=\"quotes:write\" value=\"granted\" checked>"),
        "{page}"
    );

    let done = answer_device(
        &app,
        &[
            ("user_code", &user_code),
            ("user", "dev_dora"),
            ("quotes:read", "granted"),
        ],
    )
    .await;
    assert_eq!(done.status(), 200);
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("You may close this window")
    );

    let tokens = poll(&app, &started["device_code"]).await;
    assert_eq!(tokens.status(), 200);
    let tokens: Value = tokens.json().await.unwrap();
    assert_eq!(tokens["scope"], "openid quotes:read");
    assert!(tokens["refresh_token"].is_string());
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(header(access_token)["typ"], "at+jwt");
    let claims = claims(access_token);
    assert_eq!(claims["sub"], "dev_dora");
    assert_eq!(claims["client_id"], DEVICE_CLIENT);
    assert_eq!(claims["aud"], app.address);
    assert_eq!(app.get_quote(access_token).await.status(), 404);
    assert_eq!(app.put_quote(access_token, "No.").await.status(), 403);

    // The device code is spent; the refresh token works as any other.
    assert_oauth_error(poll(&app, &started["device_code"]).await, "invalid_grant").await;
    let renewed = refresh(&app, &tokens["refresh_token"], DEVICE_CLIENT).await;
    assert_eq!(renewed.status(), 200);
}

#[tokio::test]
async fn a_denied_device_gets_access_denied_and_unknown_codes_are_refused() {
    let key_file = TempPath::new("device-deny-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let started = device_authorization(&app, "quotes:read").await;
    let user_code = started["user_code"].as_str().unwrap();

    let unknown = get(&app, "/dev-idp/device", &[("user_code", "BCDF-GHJK")]).await;
    assert_eq!(unknown.status(), 400);
    let malformed = get(&app, "/dev-idp/device", &[("user_code", "<x>")]).await;
    assert_eq!(malformed.status(), 400);
    assert!(!malformed.text().await.unwrap().contains("<x>"));

    // Another site's form cannot answer for the person.
    let forged = post_from(
        &app,
        "/dev-idp/device",
        &[
            ("user_code", user_code),
            ("user", "mallory"),
            ("quotes:read", "granted"),
        ],
        "http://evil.example",
        Some("cross-site"),
        None,
    )
    .await;
    assert_eq!(forged.status(), 403);

    let denied = answer_device(&app, &[("user_code", user_code), ("deny", "denied")]).await;
    assert_eq!(denied.status(), 200);
    assert_oauth_error(poll(&app, &started["device_code"]).await, "access_denied").await;
    let again = answer_device(&app, &[("user_code", user_code), ("user", "dev_dora")]).await;
    assert_eq!(again.status(), 400);
}

#[tokio::test]
async fn malformed_device_requests_get_oauth_errors() {
    let key_file = TempPath::new("device-bad-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let no_client = post_form(
        &app,
        "/dev-idp/device_authorization",
        &[("scope", "quotes:read")],
    )
    .await;
    assert_oauth_error(no_client, "invalid_request").await;
    let other_resource = post_form(
        &app,
        "/dev-idp/device_authorization",
        &[
            ("client_id", DEVICE_CLIENT),
            ("resource", "https://elsewhere.example"),
        ],
    )
    .await;
    assert_oauth_error(other_resource, "invalid_target").await;
    let no_code = post_form(
        &app,
        "/dev-idp/token",
        &[("grant_type", DEVICE_GRANT), ("client_id", DEVICE_CLIENT)],
    )
    .await;
    assert_oauth_error(no_code, "invalid_request").await;
    let unknown = poll(&app, &Value::from("not-a-device-code")).await;
    assert_oauth_error(unknown, "invalid_grant").await;
    let not_a_form = app
        .client
        .post(app.url("/dev-idp/device_authorization"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_oauth_error(not_a_form, "invalid_request").await;
}

#[tokio::test]
async fn a_public_client_revokes_only_its_own_refresh_tokens() {
    let key_file = TempPath::new("public-revoke-idp.pem");
    let app = spawn_dev_app(&key_file).await;
    let code = sign_in(&app, &authorize_params(), "alice").await;
    let tokens = tokens_for(&app, &code).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    // Another client's name revokes nothing, and says nothing either.
    let response = post_form(
        &app,
        "/dev-idp/revoke",
        &[("token", refresh_token), ("client_id", "someone-else")],
    )
    .await;
    assert_eq!(response.status(), 200);
    let response = post_form(
        &app,
        "/dev-idp/revoke",
        &[("token", refresh_token), ("client_id", CLIENT_ID)],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_oauth_error(
        refresh(&app, &tokens["refresh_token"], CLIENT_ID).await,
        "invalid_grant",
    )
    .await;
}
