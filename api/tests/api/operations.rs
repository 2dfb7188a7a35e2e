//! Operations endpoints, CORS, and problem+json for every kind of error.

use serde_json::Value;

use crate::helpers::{Setup, assert_problem, spawn_app, spawn_app_with};

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
        assert_eq!(response.headers()["allow"], "GET, HEAD");
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

#[tokio::test]
async fn request_ids_are_echoed_or_made() {
    let app = spawn_app().await;
    let given = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "lb-7f3a.42")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "lb-7f3a.42");

    for header in [None, Some("has spaces and\ttabs")] {
        let mut request = app.client.get(app.url("/me/quote"));
        if let Some(value) = header {
            request = request.header("x-request-id", value);
        }
        let response = request.send().await.unwrap();
        let made = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(made.len(), 32, "{made}");
        assert!(made.bytes().all(|b| b.is_ascii_hexdigit()), "{made}");
    }
}

#[tokio::test]
async fn metrics_are_served_in_prometheus_format() {
    let app = spawn_app().await;
    let token = app.token("user_metrics");
    app.put_quote(&token, "Counted.").await;
    app.client.get(app.url("/me/quote")).send().await.unwrap();

    let metrics = format!("{}/metrics", app.metrics_address.as_ref().unwrap());
    let response = app.client.get(&metrics).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "{:?}",
        response.headers()
    );
    let body = response.text().await.unwrap();
    for expected in [
        r#"http_requests_total{method="PUT",route="/me/quote",status="201"}"#,
        r#"http_request_duration_seconds_bucket{method="PUT",route="/me/quote",status="201",le="0.005"}"#,
        r#"quotes_token_rejections_total{reason="missing"}"#,
        r#"quotes_jwks_refreshes_total{trigger="schedule",outcome="ok"}"#,
        r#"quotes_db_pool_connections{state="idle"}"#,
        "quotes_db_pool_max_connections",
        r#"quotes_db_batch_size_bucket{kind="save",le="1"}"#,
        r#"quotes_db_queued_requests{kind="find"}"#,
    ] {
        assert!(body.contains(expected), "{expected} missing from:\n{body}");
    }
    // Unknown paths share one label, so scanners cannot blow up the series.
    app.client
        .get(app.url("/no/such/path/123"))
        .send()
        .await
        .unwrap();
    let body = app.metrics_text().await;
    assert!(body.contains(r#"route="unmatched""#));
    assert!(!body.contains("/no/such/path/123"));
}

#[tokio::test]
async fn the_pool_is_shared_out_between_workers_without_growing() {
    // (workers, DATABASE_POOL_SIZE): split evenly, or one connection each
    // for fewer connections than workers asked for.
    for (workers, pool_size) in [(2, 5), (3, 2)] {
        let app = spawn_app_with(Setup {
            configure: Box::new(move |config, _| {
                config.http_workers = Some(workers);
                config.database.pool_size = pool_size;
            }),
            ..Setup::default()
        })
        .await;
        let body = app.metrics_text().await;
        let max = body
            .lines()
            .find_map(|line| line.strip_prefix("quotes_db_pool_max_connections "))
            .unwrap_or_else(|| panic!("no pool size in:\n{body}"));
        assert_eq!(
            max,
            pool_size.to_string(),
            "{workers} workers, pool {pool_size}"
        );
    }
}
