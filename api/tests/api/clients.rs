//! What clients nobody here wrote rely on: `HEAD`, the media types the
//! description names, CORS for the headers it invites, `Retry-After` on
//! every `503`, and one rule for what a quote may be.

use crate::helpers::{Setup, assert_problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn head_answers_wherever_get_does() {
    let app = spawn_app().await;
    let token = app.token("user_head");
    assert_eq!(app.put_quote(&token, "Heads up.").await.status(), 201);
    for (path, authorized) in [
        ("/me/quote", true),
        ("/healthz", false),
        ("/readyz", false),
        ("/openapi.json", false),
    ] {
        let with_token = |request: reqwest::RequestBuilder| {
            if authorized {
                request.bearer_auth(&token)
            } else {
                request
            }
        };
        let get = with_token(app.client.get(app.url(path)))
            .send()
            .await
            .unwrap();
        let head = with_token(app.client.head(app.url(path)))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(
            head.headers()["content-type"],
            get.headers()["content-type"],
            "{path}"
        );
        assert_eq!(
            head.headers().get("content-length"),
            get.headers().get("content-length"),
            "{path}"
        );
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "{path}: HEAD sent a body"
        );
    }
    // Where GET is not a method, neither is HEAD.
    let head = app
        .client
        .head(app.url("/webhooks/clerk"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 404);
}

#[tokio::test]
async fn bodies_are_application_json_as_described() {
    let app = spawn_app().await;
    let token = app.token("user_media");
    let refused = app
        .put_raw(
            &token,
            Some("application/merge-patch+json"),
            r#"{"quote": "Patched."}"#,
        )
        .await;
    let problem = assert_problem(refused, 415).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("application/json"),
        "{problem}"
    );
    let accepted = app
        .put_raw(
            &token,
            Some("application/json; charset=utf-8"),
            r#"{"quote": "Plain."}"#,
        )
        .await;
    assert_eq!(accepted.status(), 201);
}

#[tokio::test]
async fn a_quote_of_invisible_characters_only_is_refused() {
    let app = spawn_app().await;
    let token = app.token("user_invisible");
    for invisible in ["\u{feff}", " \u{200b}\u{200d} ", "\u{2060}\u{ad}"] {
        let problem = assert_problem(app.put_quote(&token, invisible).await, 422).await;
        assert_eq!(
            problem["type"], "urn:quotes:problem:invalid-quote",
            "{invisible:?}"
        );
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("no visible characters"),
            "{problem}"
        );
    }
    assert_problem(app.get_quote(&token).await, 404).await;
}

#[tokio::test]
async fn browsers_may_send_a_request_id_and_read_the_headers_they_need() {
    let app = spawn_app().await;
    let preflight = |headers: &'static str, origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/me/quote"))
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", headers)
            .send()
    };
    let allowed = preflight(
        "authorization, content-type, x-request-id",
        "http://localhost:3000",
    )
    .await
    .unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let names = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(names.contains("x-request-id"), "{names}");

    let actual = app
        .client
        .get(app.url("/me/quote"))
        .header("origin", "http://localhost:3000")
        .header("x-request-id", "browser-1")
        .bearer_auth(app.token("user_cors"))
        .send()
        .await
        .unwrap();
    assert_eq!(actual.headers()["x-request-id"], "browser-1");
    let exposed = actual.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for name in ["x-request-id", "retry-after", "www-authenticate"] {
        assert!(exposed.contains(name), "{name} not in {exposed}");
    }

    // A refused preflight says what was refused.
    let header = assert_problem(
        preflight("x-unknown", "http://localhost:3000")
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(
        header["detail"]
            .as_str()
            .unwrap()
            .contains("headers are not allowed"),
        "{header}"
    );
    let origin = assert_problem(
        preflight("authorization", "https://elsewhere.example")
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(
        origin["detail"]
            .as_str()
            .unwrap()
            .contains("Origin is not allowed"),
        "{origin}"
    );
}

#[tokio::test]
async fn every_503_says_when_to_retry() {
    // The signing keys are nowhere to be had (nothing listens on port 9).
    let app = spawn_app_with(Setup {
        configure: Box::new(|config, _| {
            config.auth.jwks_url = Some("http://127.0.0.1:9/jwks.json".parse().unwrap());
        }),
        wait_ready: false,
        ..Setup::default()
    })
    .await;
    let token = app.token("user_retry");
    let unavailable = app.get_quote(&token).await;
    assert_eq!(unavailable.headers()["retry-after"], "1");
    assert_problem(unavailable, 503).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["retry-after"], "1");
}
