//! Any bytes as a bearer token: verification must answer, never panic.

#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use quotes_core::auth::{AuthSettings, KeyStore, Verifier, clerk};

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
});

/// Clerk mode with a fixed key: every rule runs and nothing touches the network.
static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    let key =
        clerk::verifying_key_from_pem(include_str!("../../api/tests/api/keys/rsa-2048.pub.pem"))
            .expect("the test key");
    let config = AuthSettings {
        audiences: vec!["quotes-api".to_owned()],
        authorized_parties: vec!["https://app.example.com".to_owned()],
        clerk: true,
        ..AuthSettings::new("https://clerk.example.com")
    };
    Verifier::new(&config, KeyStore::fixed(Arc::new(key)))
});

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        let _ = RUNTIME.block_on(VERIFIER.verify(token));
    }
});
