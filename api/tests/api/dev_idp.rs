//! The development identity provider: on only when asked, on loopback
//! only, and trusted through the same discovery and JWKS path as any
//! provider.

use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use quotes_api::dev_idp::{DevIdp, DevIdpConfig, issuer_for};
use serde_json::Value;

use crate::helpers::{Setup, TempPath, TestApp, spawn_app_with};

async fn spawn_dev_app(key_file: &TempPath) -> TestApp {
    let path = key_file.0.clone();
    spawn_app_with(Setup {
        configure: Box::new(move |config, _| {
            config.dev_idp = Some(DevIdpConfig { key_file: path });
        }),
        ..Setup::default()
    })
    .await
}

fn dev_token(app: &TestApp, key_file: &TempPath, user: &str) -> String {
    let addr = app.address.trim_start_matches("http://").parse().unwrap();
    let settings = DevIdpConfig {
        key_file: key_file.0.clone(),
    };
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

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quotes-api"));
    command.env_clear().stdin(Stdio::null());
    command
}

#[test]
fn dev_token_prints_a_token_for_the_configured_address() {
    let key_file = TempPath::new("dev-idp.pem");
    let missing = binary()
        .args(["dev-token", "alice"])
        .env("DEV_IDP_KEY_FILE", &key_file.0)
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("DEV_IDP_KEY_FILE"), "{stderr}");

    DevIdp::load_or_create(
        &DevIdpConfig {
            key_file: key_file.0.clone(),
        },
        String::new(),
    )
    .unwrap();
    let output = binary()
        .args(["dev-token", "alice"])
        .env("DEV_IDP_KEY_FILE", &key_file.0)
        .env("BIND_ADDR", "127.0.0.1:9123")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap();
    let parts: Vec<&str> = token.trim().split('.').collect();
    assert_eq!(parts.len(), 3);
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["iss"], "http://127.0.0.1:9123/dev-idp");
    assert_eq!(claims["sub"], "alice");
}

#[test]
fn the_provider_refuses_non_loopback_addresses_and_real_provider_settings() {
    let base = [
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/quotes"),
        ("DEV_IDP", "1"),
    ];
    for extra in [
        [("BIND_ADDR", "0.0.0.0:8080")],
        [("BIND_ADDR", "192.0.2.10:8080")],
        [("AUTH_ISSUER", "https://clerk.example.com")],
    ] {
        let output = binary().envs(base).envs(extra).output().unwrap();
        assert!(!output.status.success(), "{extra:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("DEV_IDP"), "{stderr}");
    }
}
