//! PKCE's code challenge, hashed by the browser's Web Crypto.

use quotes_web::auth::oidc::challenge;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
async fn the_challenge_is_rfc_7636s() {
    // RFC 7636, appendix B.
    assert_eq!(
        challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
            .await
            .as_deref(),
        Ok("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    );
    // Computed independently (Python's hashlib and base64).
    assert_eq!(
        challenge("dBjftJeZ4CVP-mJ0kRn5NDvZl_Nc5BrWvC3kxZK6hYh8")
            .await
            .as_deref(),
        Ok("YiwXzxzqLWsnc_XwKSW6GdTNigmyQ7Is3iqtzl-QdR8")
    );
}
