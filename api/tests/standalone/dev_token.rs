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
