//! Clerk's settings: the publishable key and the PEM public key, read as
//! the command line reads them.

use quotes_test_support::{auth_from_flags, clerk_publishable_key};

#[test]
fn the_publishable_key_alone_configures_issuer_and_jwks() {
    let config = auth_from_flags(&[
        "--clerk-publishable-key",
        &clerk_publishable_key("clerk.example.com"),
    ])
    .unwrap();
    assert_eq!(config.issuer, "https://clerk.example.com");
    assert_eq!(
        config.jwks_url.unwrap().as_str(),
        "https://clerk.example.com/.well-known/jwks.json"
    );
    assert!(config.clerk);

    let agreeing = auth_from_flags(&[
        "--clerk-publishable-key",
        &clerk_publishable_key("clerk.example.com"),
        "--auth-issuer",
        "https://clerk.example.com",
    ]);
    assert!(agreeing.is_ok());

    let disagreeing = auth_from_flags(&[
        "--clerk-publishable-key",
        &clerk_publishable_key("clerk.example.com"),
        "--auth-issuer",
        "https://other.example.com",
    ])
    .unwrap_err();
    assert_eq!(disagreeing.variable, "CLERK_PUBLISHABLE_KEY");

    let broken = auth_from_flags(&["--clerk-publishable-key", "pk_test_bm9wZQ"]).unwrap_err();
    assert_eq!(broken.variable, "CLERK_PUBLISHABLE_KEY");
}

#[test]
fn a_broken_pem_key_is_a_configuration_error() {
    let error = auth_from_flags(&[
        "--auth-issuer",
        "https://clerk.example.com",
        "--clerk-jwt-key",
        "not a key",
    ])
    .unwrap_err();
    assert_eq!(error.variable, "CLERK_JWT_KEY");
}
