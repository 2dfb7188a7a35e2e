//! Turning a JWKS document into keys we can verify with. Each entry is
//! judged on its own: one unusable entry is skipped (with a warning) and the
//! others keep working.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// The shape of key a token's `alg` must fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
}

impl KeyKind {
    fn fits(self, alg: Algorithm) -> bool {
        use Algorithm::{ES256, ES384, EdDSA, PS256, PS384, PS512, RS256, RS384, RS512};
        match self {
            Self::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            Self::EcP256 => alg == ES256,
            Self::EcP384 => alg == ES384,
            Self::Ed25519 => alg == EdDSA,
        }
    }
}

/// One usable verification key.
pub struct VerifyingKey {
    pub kind: KeyKind,
    /// The JWK's own `alg`, which then is the only algorithm it verifies.
    pub alg: Option<Algorithm>,
    pub key: DecodingKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// Whether a token signed with `alg` may be checked with this key.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        self.kind.fits(alg) && self.alg.is_none_or(|own| own == alg)
    }
}

/// Usable keys by `kid`.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: HashMap<String, Arc<VerifyingKey>>,
}

impl KeySet {
    /// The key with this id.
    pub fn get(&self, kid: &str) -> Option<&Arc<VerifyingKey>> {
        self.keys.get(kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Adds one key under its id.
    pub fn insert(&mut self, kid: String, key: VerifyingKey) {
        self.keys.insert(kid, Arc::new(key));
    }
}

/// Why a JWKS document as a whole was refused (the previous keys stay).
#[derive(Debug, thiserror::Error)]
#[error("not a JWKS document: {0}")]
pub struct JwksError(String);

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

/// Parses a JWKS document, keeping every entry we can verify with.
pub fn parse(body: &[u8]) -> Result<KeySet, JwksError> {
    let document: Document = serde_json::from_slice(body).map_err(|e| JwksError(e.to_string()))?;
    let mut set = KeySet::default();
    for (index, entry) in document.keys.into_iter().enumerate() {
        match usable_key(entry) {
            Ok((kid, key)) => {
                if set.keys.contains_key(&kid) {
                    tracing::warn!(kid, "JWKS has two keys with one kid; keeping the first");
                } else {
                    set.insert(kid, key);
                }
            }
            Err(reason) => tracing::warn!(index, reason, "skipping unusable JWKS entry"),
        }
    }
    // Keys are rotated by publishing the new one before retiring the old:
    // a document with none we can use is a provider's mistake, not a
    // reason to drop the keys tokens are signed with now.
    if set.is_empty() {
        return Err(JwksError("it has no usable signing key".to_owned()));
    }
    Ok(set)
}

fn usable_key(entry: serde_json::Value) -> Result<(String, VerifyingKey), String> {
    let jwk: Jwk = serde_json::from_value(entry).map_err(|e| format!("malformed key: {e}"))?;
    let kid = jwk
        .common
        .key_id
        .clone()
        .filter(|kid| !kid.is_empty())
        .ok_or("no kid")?;
    match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(_) => return Err(format!("{kid}: not a signing key (use)")),
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops.iter().any(|op| matches!(op, KeyOperations::Verify))
    {
        return Err(format!("{kid}: not a verification key (key_ops)"));
    }
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let bits =
                modulus_bits(&rsa.n).ok_or_else(|| format!("{kid}: malformed RSA modulus"))?;
            if bits < MIN_RSA_BITS {
                return Err(format!("{kid}: RSA key of {bits} bits is too weak"));
            }
            KeyKind::Rsa
        }
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => KeyKind::EcP256,
            EllipticCurve::P384 => KeyKind::EcP384,
            _ => return Err(format!("{kid}: unsupported curve")),
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            KeyKind::Ed25519
        }
        AlgorithmParameters::OctetKeyPair(_) => return Err(format!("{kid}: unsupported curve")),
        AlgorithmParameters::OctetKey(_) => {
            return Err(format!("{kid}: symmetric keys are never accepted"));
        }
        _ => return Err(format!("{kid}: unsupported key type")),
    };
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(alg) => {
            let alg = signature_algorithm(alg)
                .ok_or_else(|| format!("{kid}: alg is not an asymmetric signature algorithm"))?;
            if !kind.fits(alg) {
                return Err(format!("{kid}: alg {alg:?} does not fit a {kind:?} key"));
            }
            Some(alg)
        }
    };
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("{kid}: unusable key: {e}"))?;
    Ok((kid, VerifyingKey { kind, alg, key }))
}

fn signature_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

fn modulus_bits(n: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(n.trim_end_matches('=')).ok()?;
    let first = bytes.iter().position(|&b| b != 0)?;
    let significant = &bytes[first..];
    Some(significant.len() * 8 - significant[0].leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_size_ignores_leading_zero_bytes() {
        let mut n = vec![0u8, 0x80];
        n.extend([0xff; 255]);
        assert_eq!(modulus_bits(&URL_SAFE_NO_PAD.encode(&n)), Some(2048));
        assert_eq!(modulus_bits(&URL_SAFE_NO_PAD.encode([0x01, 0x00])), Some(9));
        assert_eq!(modulus_bits("!!"), None);
    }

    #[test]
    fn a_document_without_keys_is_refused_and_broken_entries_are_skipped() {
        assert!(parse(b"{}").is_err());
        assert!(parse(b"<html>").is_err());
        // Every entry skipped leaves nothing to verify with: refused too.
        let error =
            parse(br#"{"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}, {"kty": "XYZ"}, 7]}"#)
                .unwrap_err();
        assert!(
            error.to_string().contains("no usable signing key"),
            "{error}"
        );
        assert!(parse(br#"{"keys": []}"#).is_err());
    }

    #[test]
    fn the_key_alg_pins_the_token_alg() {
        let key = VerifyingKey {
            kind: KeyKind::Rsa,
            alg: Some(Algorithm::RS256),
            key: DecodingKey::from_rsa_raw_components(&[1], &[1]),
        };
        assert!(key.accepts(Algorithm::RS256));
        assert!(!key.accepts(Algorithm::PS256));
        assert!(!key.accepts(Algorithm::ES256));
        assert!(!key.accepts(Algorithm::HS256));
    }
}
