//! Micro-benchmarks of the request hot path: token verification per
//! algorithm (signature checked every time, and a remembered token), and
//! the quote rules. `cargo bench -p quotes-api`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use quotes_core::auth::jwks::{self, VerifyingKey};
use quotes_core::auth::{AuthSettings, KeyStore, Verifier};
use quotes_core::quotes::QuoteText;
use serde_json::json;

const ISSUER: &str = "https://clerk.bench.example";

fn config() -> AuthSettings {
    AuthSettings {
        authorized_parties: vec!["https://app.bench.example".to_owned()],
        ..AuthSettings::new(ISSUER)
    }
}

/// A verifier holding `key`'s public half, and a Clerk-style token from it.
fn setup(pem: &[u8], alg: Algorithm) -> (Verifier, String) {
    let encoding = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
        _ => EncodingKey::from_rsa_pem(pem),
    }
    .expect("a test key");
    let mut jwk =
        serde_json::to_value(Jwk::from_encoding_key(&encoding, alg).expect("a JWK")).expect("JSON");
    jwk["kid"] = json!("bench");
    let set = jwks::parse(json!({ "keys": [jwk] }).to_string().as_bytes()).expect("a key set");
    let key: Arc<VerifyingKey> = set.get("bench").expect("the key").clone();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock")
        .as_secs();
    let mut header = Header::new(alg);
    header.kid = Some("bench".to_owned());
    let claims = json!({
        "iss": ISSUER, "sub": "user_2benchmark0000000000000", "iat": now, "nbf": now - 10,
        "exp": now + 3600, "azp": "https://app.bench.example", "sid": "sess_2benchmark000000000000",
        "scope": "quotes:read quotes:write",
    });
    let token = jsonwebtoken::encode(&header, &claims, &encoding).expect("a token");
    (Verifier::new(&config(), KeyStore::fixed(key)), token)
}

fn verification(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let keys = [
        (
            "RS256",
            &include_bytes!("../tests/api/keys/rsa-2048.pem")[..],
            Algorithm::RS256,
        ),
        (
            "ES256",
            &include_bytes!("../tests/api/keys/ec-p256.pem")[..],
            Algorithm::ES256,
        ),
        (
            "EdDSA",
            &include_bytes!("../tests/api/keys/ed25519.pem")[..],
            Algorithm::EdDSA,
        ),
    ];
    let mut group = c.benchmark_group("verify");
    for (name, pem, alg) in keys {
        let (verifier, token) = setup(pem, alg);
        let verifier = verifier.without_cache();
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime
                    .block_on(verifier.verify(black_box(&token)))
                    .expect("valid")
            });
        });
    }
    let (verifier, token) = setup(keys[0].1, Algorithm::RS256);
    runtime.block_on(verifier.verify(&token)).expect("valid");
    group.bench_function("RS256 remembered", |b| {
        b.iter(|| {
            runtime
                .block_on(verifier.verify(black_box(&token)))
                .expect("valid")
        });
    });
    group.finish();
}

fn quote_rules(c: &mut Criterion) {
    let typical = "Simplicity is prerequisite for reliability. — Edsger W. Dijkstra";
    let longest = "é".repeat(1000);
    c.bench_function("quote/typical", |b| {
        b.iter(|| QuoteText::parse(black_box(typical)));
    });
    c.bench_function("quote/1000 characters", |b| {
        b.iter(|| QuoteText::parse(black_box(&longest)));
    });
}

criterion_group!(benches, verification, quote_rules);
criterion_main!(benches);
