//! The development provider from the command line: `dev-token`, and the
//! settings it refuses.

use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use quotes_api::dev_idp::{DevIdp, DevIdpSettings};
use serde_json::Value;

use crate::helpers::TempPath;

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

    DevIdp::load_or_create(&DevIdpSettings::new(key_file.0.clone()), String::new()).unwrap();
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

/// The header and claims of the token `dev-token` prints with `args`.
fn printed(key_file: &TempPath, args: &[&str]) -> (Value, Value) {
    let output = binary()
        .arg("dev-token")
        .args(args)
        .env("DEV_IDP_KEY_FILE", &key_file.0)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap();
    let mut parts = token.trim().split('.').map(|part| {
        serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    });
    (parts.next().unwrap(), parts.next().unwrap())
}

#[test]
fn dev_token_prints_an_access_token_whose_scope_and_client_can_be_chosen() {
    let key_file = TempPath::new("dev-idp.pem");
    DevIdp::load_or_create(&DevIdpSettings::new(key_file.0.clone()), String::new()).unwrap();

    let (header, claims) = printed(&key_file, &["alice"]);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["iss"], "http://127.0.0.1:8080/dev-idp");
    assert_eq!(claims["scope"], "quotes:read quotes:write");
    assert_eq!(claims["client_id"], "dev-token");
    assert!(claims["jti"].is_string());
    assert!(claims["aud"].is_null());

    let (_, claims) = printed(
        &key_file,
        &["alice", "--scope", "quotes:read", "--client", "cli"],
    );
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["scope"], "quotes:read");
    assert_eq!(claims["client_id"], "cli");
    let (_, claims) = printed(&key_file, &["alice", "--scope", ""]);
    assert_eq!(claims["scope"], "");

    let refused = binary()
        .args(["dev-token", "alice", "--scope", "quotes:admin"])
        .env("DEV_IDP_KEY_FILE", &key_file.0)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--scope"), "{stderr}");
}

#[test]
fn dev_token_prints_clerk_shaped_session_tokens_for_tests() {
    let key_file = TempPath::new("dev-idp.pem");
    DevIdp::load_or_create(&DevIdpSettings::new(key_file.0.clone()), String::new()).unwrap();

    let (header, claims) = printed(
        &key_file,
        &[
            "user_2abc",
            "--clerk",
            "--org",
            "org_2xyz:admin:acme",
            "--actor",
            "user_support",
        ],
    );
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["cat"], "cl_B7d4PD111AAA");
    assert_eq!(claims["sub"], "user_2abc");
    assert_eq!(claims["v"], 2);
    assert!(claims["sid"].as_str().unwrap().starts_with("sess_"));
    assert_eq!(claims["azp"], "http://127.0.0.1:8080");
    assert_eq!(
        claims["o"],
        serde_json::json!({"id": "org_2xyz", "rol": "admin", "slg": "acme"})
    );
    assert_eq!(claims["act"], serde_json::json!({"sub": "user_support"}));
    assert!(claims["scope"].is_null() && claims["client_id"].is_null());

    let (_, claims) = printed(
        &key_file,
        &["user_2abc", "--clerk", "--azp", "http://localhost:5173"],
    );
    assert_eq!(claims["azp"], "http://localhost:5173");
    assert!(claims["o"].is_null() && claims["act"].is_null());
}

#[test]
fn the_provider_refuses_non_loopback_addresses_and_real_provider_settings() {
    let base = [
        ("DATABASE_URL", "postgres://quotes@db.example/quotes"),
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
