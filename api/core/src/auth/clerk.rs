//! Clerk specifics: the issuer hidden in a publishable key, Clerk's PEM
//! "JWKS Public Key", and the header rules that tell session tokens from
//! Clerk's other JWTs (templates, machine tokens), as `@clerk/backend` does.

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use jsonwebtoken::{DecodingKey, Header};

use super::error::AuthError;
use super::jwks::{KeyKind, VerifyingKey};

/// `cat` of a session token.
pub const SESSION_TOKEN_CATEGORY: &str = "cl_B7d4PD111AAA";

/// `cat` of instances that stamp every token alike; it says nothing.
pub const IGNORED_CATEGORY: &str = "cl_I7d4PD111III";

/// Publishable keys are base64 with or without padding.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The Frontend API URL (the issuer of the instance's tokens) encoded in a
/// publishable key: `pk_test_`/`pk_live_` + base64 of `host$`.
pub fn frontend_api_from_publishable_key(key: &str) -> Result<String, String> {
    let encoded = key
        .strip_prefix("pk_test_")
        .or_else(|| key.strip_prefix("pk_live_"))
        .ok_or("must start with pk_test_ or pk_live_")?;
    let decoded = LENIENT
        .decode(encoded)
        .or_else(|_| general_purpose::URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=')))
        .map_err(|_| "is not a Clerk publishable key (bad base64)")?;
    let text = String::from_utf8(decoded).map_err(|_| "is not a Clerk publishable key")?;
    let host = text
        .strip_suffix('$')
        .ok_or("is not a Clerk publishable key (no `$` terminator)")?;
    let valid_host = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if !valid_host {
        return Err("does not encode a host name".to_owned());
    }
    Ok(format!("https://{host}"))
}

/// Clerk's PEM public key. Environment files often carry it on one line
/// with literal `\n`, which is accepted too.
pub fn verifying_key_from_pem(pem: &str) -> Result<VerifyingKey, String> {
    let pem = pem.replace("\\n", "\n");
    let key = DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(
        |_| "is not a PEM RSA public key (Clerk Dashboard → API keys → JWKS Public Key)",
    )?;
    Ok(VerifyingKey {
        kind: KeyKind::Rsa,
        alg: None,
        key,
    })
}

/// Session tokens only: Clerk signs its JWT templates and machine tokens
/// with the same key and marks them in the header's `cat` (an absent `cat`
/// predates the marking and is accepted). OAuth access tokens say so in `typ`.
pub fn check_session_token(header: &Header) -> Result<(), AuthError> {
    if let Some(typ) = &header.typ
        && !typ.eq_ignore_ascii_case("JWT")
    {
        return Err(AuthError::TokenType);
    }
    match header.extras.get::<String>("cat") {
        Ok(None) => Ok(()),
        Ok(Some(cat)) if cat == SESSION_TOKEN_CATEGORY || cat == IGNORED_CATEGORY => Ok(()),
        _ => Err(AuthError::TokenType),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frontend_api_is_decoded_from_the_publishable_key() {
        let key = format!(
            "pk_test_{}",
            general_purpose::STANDARD.encode("clerk.example.com$")
        );
        assert_eq!(
            frontend_api_from_publishable_key(&key).unwrap(),
            "https://clerk.example.com"
        );
        let unpadded = format!(
            "pk_live_{}",
            general_purpose::STANDARD_NO_PAD.encode("clerk.app.example.com$")
        );
        assert_eq!(
            frontend_api_from_publishable_key(&unpadded).unwrap(),
            "https://clerk.app.example.com"
        );
    }

    #[test]
    fn malformed_publishable_keys_are_refused() {
        for key in [
            "sk_test_abc",
            "pk_test_!!!",
            &format!(
                "pk_test_{}",
                general_purpose::STANDARD.encode("no-terminator")
            ),
            &format!(
                "pk_test_{}",
                general_purpose::STANDARD.encode("evil.com/path$")
            ),
            &format!("pk_test_{}", general_purpose::STANDARD.encode("$")),
        ] {
            assert!(frontend_api_from_publishable_key(key).is_err(), "{key}");
        }
    }

    #[test]
    fn only_session_token_categories_pass() {
        let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
        assert!(check_session_token(&header).is_ok());
        for (cat, ok) in [
            (SESSION_TOKEN_CATEGORY, true),
            (IGNORED_CATEGORY, true),
            ("cl_B7d4PD222AAA", false),
            ("cl_B7d4PD333AAA", false),
        ] {
            header.extras.insert("cat", cat);
            assert_eq!(check_session_token(&header).is_ok(), ok, "{cat}");
        }
        let mut access_token = Header::new(jsonwebtoken::Algorithm::RS256);
        access_token.typ = Some("at+jwt".to_owned());
        assert!(check_session_token(&access_token).is_err());
    }
}
