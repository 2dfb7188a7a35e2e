//! The web app's bundle and its `config.json`, served next to the API
//! (`--web-dir`), without ever shadowing an API route.

use std::path::PathBuf;

use quotes_api::dev_idp::DevIdpSettings;
use quotes_api::http::proxies::TrustedProxies;
use quotes_api::web_app::WebAppSettings;
use serde_json::Value;

use crate::helpers::{Setup, TempPath, TestApp, spawn_app_with};

/// A bundle folder of its own, removed when the test ends.
struct Bundle(PathBuf);

impl Bundle {
    fn new() -> Self {
        let dir = TempPath::new("web-dist").0.clone();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("index.html"),
            "<!doctype html><title>quotes</title>",
        )
        .unwrap();
        std::fs::write(dir.join("app.js"), "export default 1;").unwrap();
        Self(dir)
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn spawn_web_app(bundle: &Bundle, key_file: Option<&TempPath>) -> TestApp {
    let dir = bundle.0.clone();
    let key_file = key_file.map(|path| path.0.clone());
    spawn_app_with(Setup {
        configure: Box::new(move |config, _| {
            config.web = Some(WebAppSettings {
                dir,
                clerk_publishable_key: None,
            });
            config.dev_idp = key_file.map(DevIdpSettings::new);
        }),
        ..Setup::default()
    })
    .await
}

async fn get(app: &TestApp, path: &str, accept: &str) -> reqwest::Response {
    get_with(app, path, ("accept", accept)).await
}

/// `GET path` with one request header.
async fn get_with(app: &TestApp, path: &str, (name, value): (&str, &str)) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header(name, value)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_root_serves_index_html_and_files_are_served() {
    let bundle = Bundle::new();
    let app = spawn_web_app(&bundle, None).await;

    let index = get(&app, "/", "text/html").await;
    assert_eq!(index.status(), 200);
    assert!(
        index.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        index
            .text()
            .await
            .unwrap()
            .contains("<title>quotes</title>")
    );

    let script = get(&app, "/app.js", "*/*").await;
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
}

/// A fingerprinted file with the twins `cargo xtask web` writes beside it.
const WASM: &str = "quotes_web_bg.0123456789abcdef.wasm";

async fn get_encoded(app: &TestApp, path: &str, accept_encoding: &str) -> reqwest::Response {
    get_with(app, path, ("accept-encoding", accept_encoding)).await
}

#[tokio::test]
async fn files_go_out_precompressed_by_accept_encoding_and_cached_by_their_names() {
    let bundle = Bundle::new();
    std::fs::write(bundle.0.join(WASM), b"\0asm plain").unwrap();
    std::fs::write(bundle.0.join(format!("{WASM}.br")), b"brotli bytes").unwrap();
    std::fs::write(bundle.0.join(format!("{WASM}.gz")), b"gzip bytes").unwrap();
    std::fs::write(bundle.0.join("index.html.gz"), b"gzip index").unwrap();
    let app = spawn_web_app(&bundle, None).await;
    let path = format!("/{WASM}");

    let cases = [
        ("br, gzip", Some("br"), "brotli bytes"),
        ("gzip, deflate, br, zstd", Some("br"), "brotli bytes"),
        ("gzip", Some("gzip"), "gzip bytes"),
        ("br;q=0, gzip", Some("gzip"), "gzip bytes"),
        ("br;q=0.5, gzip;q=0.9", Some("gzip"), "gzip bytes"),
        ("identity", None, "\0asm plain"),
        ("zstd", None, "\0asm plain"),
    ];
    for (accepted, encoding, body) in cases {
        let response = get_encoded(&app, &path, accepted).await;
        assert_eq!(response.status(), 200, "{accepted}");
        let headers = response.headers().clone();
        assert_eq!(
            headers.get("content-encoding").map(|v| v.to_str().unwrap()),
            encoding,
            "{accepted}"
        );
        assert_eq!(headers["content-type"], "application/wasm", "{accepted}");
        assert!(
            headers.get("content-disposition").is_none(),
            "{accepted}: a file of the page is never a download"
        );
        let vary = headers["vary"].to_str().unwrap().to_ascii_lowercase();
        assert!(
            vary.split(',').any(|name| name.trim() == "accept-encoding"),
            "{accepted}: Vary is {vary}"
        );
        assert_eq!(
            headers["cache-control"], "public, max-age=31536000, immutable",
            "{accepted}"
        );
        assert_eq!(response.text().await.unwrap(), body, "{accepted}");
    }

    // With no Accept-Encoding at all, the file as it is.
    let plain = app.client.get(app.url(&path)).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.text().await.unwrap(), "\0asm plain");

    // The page and anything without a hash in its name are revalidated
    // every time: they change in place.
    let index = get_encoded(&app, "/", "gzip, br").await;
    assert_eq!(index.headers()["content-encoding"], "gzip");
    assert!(index.headers().get("content-disposition").is_none());
    assert_eq!(index.headers()["cache-control"], "no-cache");
    assert!(
        index.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let script = get_encoded(&app, "/app.js", "gzip, br").await;
    assert!(script.headers().get("content-encoding").is_none());
    assert_eq!(script.headers()["cache-control"], "no-cache");
    let config = get(&app, "/config.json", "application/json").await;
    assert_eq!(config.headers()["cache-control"], "no-cache");

    // A page address of the app gets index.html, revalidated too.
    let page = app
        .client
        .get(app.url("/some/page"))
        .header("accept", "text/html")
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["content-encoding"], "gzip");
    assert_eq!(page.headers()["cache-control"], "no-cache");

    // The compressed file revalidates as any other: a 304, no body.
    let etag = get_encoded(&app, &path, "br").await.headers()["etag"].clone();
    let revalidated = app
        .client
        .get(app.url(&path))
        .header("accept-encoding", "br")
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
}

#[tokio::test]
async fn unknown_pages_fall_back_to_the_app_and_other_paths_get_the_api_404() {
    let bundle = Bundle::new();
    let app = spawn_web_app(&bundle, None).await;

    let page = get(&app, "/some/page", "text/html,application/xhtml+xml").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<title>quotes</title>"));

    let missing = get(&app, "/missing.js", "*/*").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn api_routes_keep_priority() {
    let bundle = Bundle::new();
    // A file that would shadow an API route if files came first.
    std::fs::create_dir_all(bundle.0.join("me")).unwrap();
    std::fs::write(bundle.0.join("me/quote"), "not the API").unwrap();
    std::fs::write(bundle.0.join("healthz"), "not the API").unwrap();
    let app = spawn_web_app(&bundle, None).await;

    let quote = get(&app, "/me/quote", "text/html").await;
    assert_eq!(quote.status(), 401);
    assert_eq!(get(&app, "/healthz", "text/html").await.status(), 200);
    assert_ne!(
        get(&app, "/healthz", "*/*").await.text().await.unwrap(),
        "not the API"
    );
    let docs = get(&app, "/openapi.json", "*/*").await;
    assert_eq!(docs.status(), 200);
}

#[tokio::test]
async fn paths_outside_the_bundle_are_never_served() {
    let bundle = Bundle::new();
    let secret = bundle.0.with_extension("secret");
    std::fs::write(&secret, "secret").unwrap();
    let app = spawn_web_app(&bundle, None).await;
    let name = secret.file_name().unwrap().to_str().unwrap().to_owned();

    for path in [
        format!("/../{name}"),
        format!("/%2e%2e/{name}"),
        format!("/%2E%2E%2F{name}"),
        format!("/..%2f{name}"),
        "/.hidden".to_owned(),
    ] {
        let response = get(&app, &path, "*/*").await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(!body.contains("secret"), "{path} leaked the file");
        assert!(status == 404 || status == 400, "{path}: {status}");
    }
    let _ = std::fs::remove_file(secret);
}

#[tokio::test]
async fn config_json_names_this_origin_and_the_development_provider() {
    let bundle = Bundle::new();
    let key_file = TempPath::new("dev-idp.pem");
    let app = spawn_web_app(&bundle, Some(&key_file)).await;

    let response = get(&app, "/config.json", "application/json").await;
    assert_eq!(response.status(), 200);
    let config: Value = response.json().await.unwrap();
    assert_eq!(config["api_base"], app.address);
    assert_eq!(config["provider"]["kind"], "oidc");
    assert_eq!(
        config["provider"]["issuer"],
        format!("{}/dev-idp", app.address)
    );
    assert_eq!(config["provider"]["client_id"], "quotes-web");
    assert_eq!(
        config["provider"]["scopes"],
        "openid profile quotes:read quotes:write"
    );
}

#[tokio::test]
async fn without_a_web_dir_nothing_is_served_at_the_root() {
    let app = crate::helpers::spawn_app().await;
    assert_eq!(get(&app, "/", "text/html").await.status(), 404);
    assert_eq!(get(&app, "/config.json", "*/*").await.status(), 404);
}

/// The headers every browser-facing response carries.
fn assert_hardened(response: &reqwest::Response) -> String {
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-frame-options"], "DENY");
    let policy = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    policy
}

#[tokio::test]
async fn the_bundle_swagger_ui_and_the_sign_in_page_are_hardened() {
    let bundle = Bundle::new();
    std::fs::write(
        bundle.0.join("index.html"),
        "<!doctype html><script type=\"module\">boot()</script>",
    )
    .unwrap();
    let key_file = TempPath::new("hardened-idp.pem");
    let app = spawn_web_app(&bundle, Some(&key_file)).await;

    for path in ["/", "/app.js", "/some/page"] {
        let policy = assert_hardened(&get(&app, path, "text/html").await);
        assert!(policy.contains("'wasm-unsafe-eval'"), "{path}: {policy}");
        // The inline boot script, by its hash; no other inline script.
        assert!(
            policy.contains("'sha256-MeZS89WlF0u+o0hCvHTBt4q1WHU+U+sJKgbdRUc36mY='"),
            "{path}: {policy}"
        );
        assert!(!policy.contains("'unsafe-inline'"), "{path}: {policy}");
    }

    let docs = get(&app, "/docs/", "text/html").await;
    assert_eq!(docs.status(), 200);
    let policy = assert_hardened(&docs);
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let initializer = app.get_text("/docs/swagger-initializer.js").await;
    assert!(
        initializer.contains(r#""persistAuthorization": false"#)
            || !initializer.contains("persistAuthorization"),
        "Swagger UI keeps tokens: {initializer}"
    );

    let sign_in = get(
        &app,
        "/dev-idp/authorize?response_type=code&client_id=quotes-web&redirect_uri=http://localhost:5173/cb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        "text/html",
    )
    .await;
    assert_eq!(sign_in.status(), 200);
    let policy = assert_hardened(&sign_in);
    assert!(policy.contains("form-action 'self'"), "{policy}");
    assert!(!policy.contains("'unsafe-inline'"), "{policy}");

    // The API's own answers are data, never documents.
    let api = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(assert_hardened(&api).starts_with("default-src 'none'"));
}

#[tokio::test]
async fn forwarded_headers_count_only_from_trusted_proxies() {
    let bundle = Bundle::new();
    let forwarded = |app: &TestApp| {
        app.client
            .get(app.url("/config.json"))
            .header("x-forwarded-host", "evil.example")
            .header("x-forwarded-proto", "https")
            .header("forwarded", "host=evil.example;proto=https")
            .send()
    };

    let app = spawn_web_app(&bundle, None).await;
    let config: Value = forwarded(&app).await.unwrap().json().await.unwrap();
    assert_eq!(config["api_base"], app.address);

    let dir = bundle.0.clone();
    let behind_proxy = spawn_app_with(Setup {
        configure: Box::new(move |config, _| {
            config.web = Some(WebAppSettings {
                dir,
                clerk_publishable_key: None,
            });
            config.trusted_proxies = TrustedProxies::new(vec!["127.0.0.0/8".parse().unwrap()]);
        }),
        ..Setup::default()
    })
    .await;
    let config: Value = forwarded(&behind_proxy)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["api_base"], "https://evil.example");
}

#[tokio::test]
async fn pages_served_under_me_are_charged_to_the_address() {
    let bundle = Bundle::new();
    let dir = bundle.0.clone();
    let app = spawn_app_with(Setup {
        rate_clock: crate::helpers::RateClock::manual(),
        configure: Box::new(move |config, _| {
            config.web = Some(WebAppSettings {
                dir,
                clerk_publishable_key: None,
            });
            config.rate_limit = Some(quotes_core::rate_limit::RateLimitSettings {
                per_minute: std::num::NonZeroU32::new(60).unwrap(),
                burst: std::num::NonZeroU32::new(2).unwrap(),
            });
        }),
        ..Setup::default()
    })
    .await;
    for left in [1, 0] {
        let page = get(&app, "/me/profile", "text/html").await;
        assert_eq!(page.status(), 200);
        assert!(
            page.headers()["ratelimit"]
                .to_str()
                .unwrap()
                .starts_with(&format!("\"per-caller\";r={left};")),
        );
    }
    assert_eq!(get(&app, "/me/profile", "text/html").await.status(), 429);
}
