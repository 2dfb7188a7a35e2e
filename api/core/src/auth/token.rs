//! The rules one bearer token must pass, in the order that costs least:
//! size, shape and header first, then the key, the signature, and the claims.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::Algorithm;
use jsonwebtoken::errors::ErrorKind;
use serde::Deserialize;

use super::clerk;
use super::error::AuthError;
use super::grant::{Audience, GrantClaims, GrantRules};
use super::jwks::{KeyKind, VerifyingKey};
use super::keys::{KeyError, KeyStore};
use super::opaque::OpaqueVerifier;
use super::principal::{Principal, TokenKind};
use super::settings::AuthSettings;

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Verified tokens remembered, so that a token used again (Clerk's live up
/// to a minute and are sent with every call) skips the signature check.
pub const VERIFIED_CACHE_ENTRIES: usize = 16 * 1024;

/// The asymmetric algorithms we verify. `none` and HMAC never are: with a
/// public key as the "secret", HMAC would let anyone mint tokens.
const ALGORITHMS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// Where the verifier reads the time: the system clock in the server, a
/// clock a test sets, so that expiry is tested without waiting for it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since 1970.
    fn now_secs(&self) -> u64;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_secs(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs())
    }
}

/// Checks tokens against one issuer's keys and the configured claim rules.
#[derive(Debug)]
pub struct Verifier {
    keys: KeyStore,
    issuer: String,
    /// When not empty, `aud` must contain one of these.
    audiences: Vec<String>,
    /// `audiences` and the resource: a token that names an audience must
    /// name one of these.
    known_audiences: Vec<String>,
    authorized_parties: Vec<String>,
    leeway_secs: u64,
    clerk: bool,
    rules: GrantRules,
    opaque: Option<OpaqueVerifier>,
    clock: Arc<dyn Clock>,
    /// Tokens that passed every rule, by their SHA-256; see [`Verified`].
    verified: Option<quick_cache::sync::Cache<[u8; 32], Arc<Verified>>>,
    /// jsonwebtoken wants the algorithms of one validation to share a
    /// family, so there is one per family.
    rsa: jsonwebtoken::Validation,
    ec: jsonwebtoken::Validation,
    ed: jsonwebtoken::Validation,
}

/// A token that passed every rule. It stays good until it expires (with the
/// same leeway) and as long as its key is still published: nothing else in
/// a token's verdict changes with time, since `nbf` and `iat` only get
/// further into the past.
#[derive(Debug)]
struct Verified {
    principal: Arc<Principal>,
    exp: u64,
    kid: String,
    key: Arc<VerifyingKey>,
}

#[derive(Deserialize)]
struct Claims {
    exp: Option<f64>,
    nbf: Option<f64>,
    iss: Option<String>,
    #[serde(default)]
    aud: Audience,
    iat: Option<f64>,
    /// Clerk's session status.
    sts: Option<String>,
    /// What the token grants, read by [`GrantRules`].
    #[serde(flatten)]
    grant: GrantClaims,
}

impl Verifier {
    /// A verifier for the configured issuer, reading keys from `keys` and
    /// the time from the system's clock.
    pub fn new(settings: &AuthSettings, keys: KeyStore) -> Self {
        let validation = |algorithms: &[Algorithm]| {
            let mut validation = jsonwebtoken::Validation::new(algorithms[0]);
            validation.algorithms = algorithms.to_vec();
            // `exp` and `nbf` are checked below against our clock; `iss`,
            // `aud` and `sub` too, with our own messages.
            validation.validate_exp = false;
            validation.validate_nbf = false;
            validation.validate_aud = false;
            validation.required_spec_claims = HashSet::from(["exp".to_owned()]);
            validation
        };
        let known_audiences: Vec<String> = settings
            .audiences
            .iter()
            .chain(&settings.resource)
            .cloned()
            .collect();
        let rules = GrantRules::new(settings);
        Self {
            rsa: validation(&ALGORITHMS[..6]),
            ec: validation(&ALGORITHMS[6..]),
            ed: validation(&[Algorithm::EdDSA]),
            keys,
            issuer: settings.issuer.clone(),
            audiences: settings.audiences.clone(),
            opaque: OpaqueVerifier::new(
                &settings.opaque,
                &settings.issuer,
                known_audiences.clone(),
                rules.clone(),
            ),
            known_audiences,
            authorized_parties: settings.authorized_parties.clone(),
            leeway_secs: settings.leeway.as_secs(),
            clerk: settings.clerk,
            rules,
            clock: Arc::new(SystemClock),
            verified: Some(quick_cache::sync::Cache::new(VERIFIED_CACHE_ENTRIES)),
        }
    }

    /// The same verifier reading the time from `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same verifier without the cache of verified tokens, so that
    /// every call checks the signature (for measuring that).
    #[must_use]
    pub fn without_cache(mut self) -> Self {
        self.verified = None;
        self
    }

    /// The key store behind this verifier.
    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// Verifies `token` and returns what it grants.
    pub async fn verify(&self, token: &str) -> Result<Arc<Principal>, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TooLarge);
        }
        let digest = fingerprint(token);
        if let Some(verified) = self.verified.as_ref().and_then(|cache| cache.get(&digest))
            && verified.exp.saturating_add(self.leeway_secs) >= self.clock.now_secs()
            && self.keys.still_publishes(&verified.kid, &verified.key)
        {
            return Ok(Arc::clone(&verified.principal));
        }
        // A JWT is three parts; anything else can only be an opaque token,
        // which its issuer has to read for us.
        if token.bytes().filter(|byte| *byte == b'.').count() != 2 {
            return match &self.opaque {
                Some(opaque) => opaque.verify(token, digest, self.clock.now_secs()).await,
                None if OpaqueVerifier::is_clerk_opaque(token) => Err(AuthError::TokenType),
                None => Err(AuthError::Malformed),
            };
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if !ALGORITHMS.contains(&header.alg) && header.alg != Algorithm::EdDSA {
            return Err(AuthError::Algorithm);
        }
        // RFC 7515 §4.1.11: extensions we do not understand must not be ignored.
        if header.crit.is_some() {
            return Err(AuthError::Malformed);
        }
        // RFC 9068 access tokens say so in `typ`; with Clerk, anything else
        // must be a session token.
        let access_token = header.typ.as_deref().is_some_and(|typ| {
            typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
        });
        let kind = if self.clerk && !access_token {
            clerk::check_session_token(&header)?;
            TokenKind::Session
        } else {
            TokenKind::OAuth
        };
        let accepted = self.rules.accepted;
        let could_pass = match kind {
            TokenKind::Session => accepted.contains(TokenKind::Session),
            _ => accepted.contains(TokenKind::OAuth) || accepted.contains(TokenKind::Machine),
        };
        if !could_pass {
            return Err(AuthError::TokenType);
        }
        let kid = header.kid.as_deref().ok_or(AuthError::NoKeyId)?;
        let key = self.keys.key(kid).await.map_err(|e| match e {
            KeyError::Unknown => AuthError::UnknownKey,
            KeyError::Unavailable => AuthError::KeysUnavailable,
        })?;
        if !key.accepts(header.alg) {
            return Err(AuthError::Algorithm);
        }
        let validation = match key.kind {
            KeyKind::Rsa => &self.rsa,
            KeyKind::EcP256 | KeyKind::EcP384 => &self.ec,
            KeyKind::Ed25519 => &self.ed,
        };
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature
                | ErrorKind::InvalidRsaKey(_)
                | ErrorKind::InvalidEcdsaKey
                | ErrorKind::InvalidEddsaKey => AuthError::Signature,
                ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => {
                    AuthError::Claims("the token has no valid expiry time")
                }
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    AuthError::Algorithm
                }
                _ => AuthError::Malformed,
            })?
            .claims;
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "jsonwebtoken checked exp is a number; a negative one saturates to 0"
        )]
        let exp = claims.exp.unwrap_or_default() as u64;
        let principal = Arc::new(self.check_claims(&claims, kind, access_token)?);
        if let Some(cache) = &self.verified {
            cache.insert(
                digest,
                Arc::new(Verified {
                    principal: Arc::clone(&principal),
                    exp,
                    kid: kid.to_owned(),
                    key,
                }),
            );
        }
        Ok(principal)
    }

    fn check_claims(
        &self,
        claims: &Claims,
        kind: TokenKind,
        access_token: bool,
    ) -> Result<Principal, AuthError> {
        #[expect(
            clippy::cast_precision_loss,
            reason = "seconds since 1970 fit an f64 exactly"
        )]
        let (earliest, latest) = {
            let now = self.clock.now_secs();
            (
                now.saturating_sub(self.leeway_secs) as f64,
                now.saturating_add(self.leeway_secs) as f64,
            )
        };
        // As jsonwebtoken would: expired once `exp` is behind the clock by
        // more than the leeway, not valid while `nbf` is ahead by more.
        if claims.exp.is_none_or(|exp| exp < earliest) {
            return Err(AuthError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf > latest) {
            return Err(AuthError::NotYetValid);
        }
        if claims.iss.as_deref() != Some(self.issuer.as_str()) {
            return Err(AuthError::Issuer);
        }
        if claims.iat.is_some_and(|iat| iat > latest) {
            return Err(AuthError::IssuedInFuture);
        }
        // An audience configured is required; a token that binds one
        // (RFC 8707) must bind it to us.
        let bound_elsewhere = kind != TokenKind::Session
            && !claims.aud.is_none()
            && !self.known_audiences.is_empty()
            && !claims.aud.contains_any(&self.known_audiences);
        if bound_elsewhere
            || (!self.audiences.is_empty() && !claims.aud.contains_any(&self.known_audiences))
        {
            return Err(AuthError::Audience);
        }
        // RFC 9068 access tokens name their client in `client_id`: `azp`
        // is the party of session and OpenID tokens.
        if !self.authorized_parties.is_empty() && !access_token {
            let Some(serde_json::Value::String(azp)) = &claims.grant.azp else {
                return Err(AuthError::AuthorizedParty);
            };
            if !self.authorized_parties.iter().any(|party| party == azp) {
                return Err(AuthError::AuthorizedParty);
            }
        }
        if access_token && !matches!(claims.grant.client_id, Some(serde_json::Value::String(_))) {
            return Err(AuthError::Claims(
                "an access token (at+jwt) must name its client_id",
            ));
        }
        // As Clerk's SDK: a session that still has tasks to complete is not
        // signed in yet.
        if kind == TokenKind::Session && claims.sts.as_deref() == Some("pending") {
            return Err(AuthError::SessionPending);
        }
        self.rules.principal(kind, &claims.grant)
    }
}

fn fingerprint(token: &str) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(digest.as_ref());
    bytes
}
