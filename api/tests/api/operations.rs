//! Operations endpoints, CORS, and problem+json for every kind of error.

use serde_json::Value;

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn healthz_and_readyz_answer_200_when_all_is_well() {
    let app = spawn_app().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["signing_keys"], "ok");
}

#[tokio::test]
async fn unknown_paths_are_404_problem() {
    let app = spawn_app().await;
    for path in ["/", "/me", "/me/quote/extra", "/quotes", "/%FF"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_problem(response, 404).await;
    }
}

#[tokio::test]
async fn operations_endpoints_are_405_for_other_methods() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.post(app.url(path)).send().await.unwrap();
        assert_eq!(response.headers()["allow"], "GET");
        assert_problem(response, 405).await;
    }
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_succeeds() {
    let app = spawn_app().await;
    for method in ["GET", "PUT", "DELETE"] {
        let response = app
            .client
            .request(reqwest::Method::OPTIONS, app.url("/me/quote"))
            .header("origin", "http://localhost:3000")
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "authorization, content-type, api-version",
            )
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{method}: {}",
            response.status()
        );
        let headers = response.headers();
        assert_eq!(
            headers["access-control-allow-origin"],
            "http://localhost:3000"
        );
        let methods = headers["access-control-allow-methods"].to_str().unwrap();
        assert!(methods.contains(method), "{methods}");
        let allowed = headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_lowercase();
        assert!(
            ["authorization", "content-type", "api-version"]
                .iter()
                .all(|name| allowed.contains(name)),
            "{allowed}"
        );
    }

    let actual = app
        .client
        .get(app.url("/me/quote"))
        .header("origin", "http://localhost:3000")
        .bearer_auth(app.token("user_a"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        actual.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
}

#[tokio::test]
async fn other_origins_get_no_cors_headers() {
    let app = spawn_app().await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/me/quote"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert!(preflight.status().is_client_error());
    assert_eq!(
        preflight.headers()["content-type"],
        "application/problem+json",
        "even CORS refusals are problems"
    );

    let actual = app
        .client
        .get(app.url("/me/quote"))
        .header("origin", "https://evil.example")
        .bearer_auth(app.token("user_a"))
        .send()
        .await
        .unwrap();
    assert!(
        actual
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn a_request_line_actix_refuses_still_gets_a_problem() {
    let app = spawn_app().await;
    // A header value actix cannot decode into a bearer token.
    let response = app
        .client
        .get(app.url("/me/quote"))
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_problem(response, 401).await;
}
