//! The provider itself: its signing key (kept in a file so tokens survive
//! restarts), the tokens it mints, and the state of sign-ins: codes in
//! progress ([`FlowState`]), browser sessions and refresh-token families
//! ([`Sessions`]). Its methods tie the two together for the handlers.

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::flow::{Authorization, CodeRefused, ErrorCode, FlowError, FlowState};
use super::sessions::{FamilyStart, NewSession, Sessions};
use super::settings::{DevIdpError, DevIdpSettings};
use super::token_request::{TokenParams, TokenRequest};

/// The provider: one signing key and the issuer it signs for.
pub struct DevIdp {
    issuer: String,
    /// The port the API is bound to, the only one the provider answers on.
    port: u16,
    kid: String,
    key: EncodingKey,
    /// How long the tokens it signs live.
    token_ttl: Duration,
    pub(super) jwk: Jwk,
    /// Codes waiting to be exchanged and recent user names.
    pub(super) flow: FlowState,
    /// Browser sessions and refresh-token families.
    sessions: Sessions,
}

impl std::fmt::Debug for DevIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIdp")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    name: &'a str,
    iat: u64,
    nbf: u64,
    exp: u64,
}

/// An ID token: the access token's claims, addressed to the client.
#[derive(Serialize)]
struct IdClaims<'a> {
    #[serde(flatten)]
    claims: Claims<'a>,
    aud: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

/// The token endpoint's answer (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub id_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
    /// Opaque; spent by its use, which answers the next one (RFC 6749 §6).
    pub refresh_token: String,
}

/// What the token endpoint issues tokens for: a user, as seen by a client.
#[derive(Debug)]
pub struct Issuance {
    pub user: String,
    pub client_id: String,
    pub scope: String,
    /// The authorization request's, for the first ID token only (OpenID
    /// Connect Core §12.2 leaves it out of refreshed ones).
    pub nonce: Option<String>,
    pub refresh_token: String,
}

/// A sign-in from the page: the code to send the browser back with, and
/// the session it started.
#[derive(Debug)]
pub struct SignIn {
    pub code: String,
    pub session: NewSession,
}

const NO_RANDOMNESS: FlowError = FlowError::new(ErrorCode::ServerError, "no randomness available");

impl DevIdp {
    /// Loads the key from `config.key_file`, creating it when missing.
    pub fn load_or_create(config: &DevIdpSettings, issuer: String) -> Result<Self, DevIdpError> {
        let path = &config.key_file;
        let pem = match std::fs::read(path) {
            Ok(pem) => pem,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let pem = generate_pem()?;
                write_private(path, &pem).map_err(|e| key_file_error(path, &e))?;
                tracing::info!(path = %path.display(), "generated a development signing key");
                pem
            }
            Err(error) => return Err(key_file_error(path, &error)),
        };
        Self::from_pem(&pem, issuer, config).map_err(|message| DevIdpError::KeyFile {
            path: path.display().to_string(),
            message,
        })
    }

    /// Loads an existing key, for `quotes-api dev-token`.
    pub fn load(config: &DevIdpSettings, issuer: String) -> Result<Self, DevIdpError> {
        let path = &config.key_file;
        let pem = std::fs::read(path).map_err(|e| DevIdpError::KeyFile {
            path: path.display().to_string(),
            message: format!("{e}; start `quotes-api --dev-idp` once to create it"),
        })?;
        Self::from_pem(&pem, issuer, config).map_err(|message| DevIdpError::KeyFile {
            path: path.display().to_string(),
            message,
        })
    }

    fn from_pem(pem: &[u8], issuer: String, config: &DevIdpSettings) -> Result<Self, String> {
        let key =
            EncodingKey::from_ec_pem(pem).map_err(|e| format!("not a P-256 private key ({e})"))?;
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).map_err(|e| e.to_string())?;
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| e.to_string())?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        // An issuer from `issuer_for` always names one; without it (a key
        // file being made, say) the provider answers nobody.
        let port = url::Url::parse(&issuer)
            .ok()
            .and_then(|url| url.port_or_known_default())
            .unwrap_or(0);
        Ok(Self {
            issuer,
            port,
            kid,
            key,
            token_ttl: config.token_ttl,
            jwk,
            flow: FlowState::default(),
            sessions: Sessions::default(),
        })
    }

    /// The issuer this provider signs for.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The port the provider answers on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether `host` (a `Host` header) names this machine on our port.
    /// Anything else means the request did not come from a page of this
    /// machine (DNS rebinding, or another container's name for us).
    pub fn answers_to(&self, host: &str) -> bool {
        let port = self.port;
        ["localhost", "127.0.0.1", "[::1]"].iter().any(|name| {
            host.eq_ignore_ascii_case(&format!("{name}:{port}"))
                || (port == 80 && host.eq_ignore_ascii_case(name))
        })
    }

    /// A signed token for `user`.
    pub fn mint(&self, user: &str) -> Result<String, jsonwebtoken::errors::Error> {
        self.sign(&self.claims(user))
    }

    /// An ID token for `user`, addressed to `client_id` and carrying the
    /// client's `nonce`, so the client can tell it asked for this one.
    pub fn mint_id_token(
        &self,
        user: &str,
        client_id: &str,
        nonce: Option<&str>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.sign(&IdClaims {
            claims: self.claims(user),
            aud: client_id,
            nonce,
        })
    }

    /// Signs `user` in from the page: starts a browser session (replacing
    /// the one the browser's cookie values `previous` name) and issues a
    /// code in it.
    pub(super) fn sign_in(
        &self,
        request: Authorization,
        user: &str,
        previous: &[&str],
        address: IpAddr,
        now: Instant,
    ) -> Result<SignIn, FlowError> {
        let session = self
            .sessions
            .start(user, previous, address, now)
            .ok_or(NO_RANDOMNESS)?;
        let code = self.flow.issue(request, user, Some(session.key))?;
        Ok(SignIn { code, session })
    }

    /// `prompt=none`: a code for the user of the live session among the
    /// browser's cookie values `ids`, or `login_required`.
    pub(super) fn sign_in_silently(
        &self,
        request: Authorization,
        ids: &[&str],
        now: Instant,
    ) -> Result<String, FlowError> {
        let signed_in = self.sessions.find(ids, now).ok_or(FlowError::new(
            ErrorCode::LoginRequired,
            "nobody is signed in at the provider in this browser",
        ))?;
        self.flow
            .issue(request, &signed_in.user, Some(signed_in.key))
    }

    /// The user of the live session among the browser's cookie values
    /// `ids`, if any.
    pub(super) fn session_user(&self, ids: &[&str], now: Instant) -> Option<String> {
        self.sessions.find(ids, now).map(|signed_in| signed_in.user)
    }

    /// The subject of an ID token this provider signed, expired or not
    /// (OpenID Connect RP-Initiated Logout §2: a hint may have expired);
    /// `None` for anything else.
    pub(super) fn id_token_subject(&self, token: &str) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Subject {
            sub: String,
        }
        let key = jsonwebtoken::DecodingKey::from_jwk(&self.jwk).ok()?;
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.set_issuer(&[&self.issuer]);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["iss", "sub"]);
        jsonwebtoken::decode::<Subject>(token, &key, &validation)
            .ok()
            .map(|data| data.claims.sub)
    }

    /// Logout: ends the sessions the browser's cookie values `ids` name,
    /// and the refresh families started in them.
    pub(super) fn sign_out(&self, ids: &[&str]) {
        self.sessions.end(ids);
    }

    /// The token endpoint's rules: a code starts a refresh-token family
    /// (and a replayed code revokes it), a refresh token is spent for the
    /// next of its family. `address` is the client's.
    pub(super) fn grant(
        &self,
        params: &TokenParams,
        address: IpAddr,
        now: Instant,
    ) -> Result<Issuance, FlowError> {
        match params.parse()? {
            TokenRequest::Code(exchange) => {
                let grant = match self.flow.redeem(&exchange) {
                    Ok(grant) => grant,
                    Err(CodeRefused::Invalid(error)) => return Err(error),
                    Err(CodeRefused::Replayed(family)) => {
                        if let Some(family) = family {
                            self.sessions.revoke_family(&family);
                        }
                        tracing::warn!("an authorization code was presented twice");
                        return Err(FlowError::new(
                            ErrorCode::InvalidGrant,
                            "the code was used before, so the tokens it was exchanged for are revoked",
                        ));
                    }
                };
                let request = grant.authorization;
                let (refresh_token, family) = self
                    .sessions
                    .open_family(
                        FamilyStart {
                            user: &grant.user,
                            client_id: &request.client_id,
                            scope: &request.scope,
                            session: grant.session,
                            address,
                        },
                        now,
                    )
                    .ok_or(NO_RANDOMNESS)?;
                self.flow.started_family(exchange.code, family);
                Ok(Issuance {
                    user: grant.user,
                    client_id: request.client_id,
                    scope: request.scope,
                    nonce: request.nonce,
                    refresh_token,
                })
            }
            TokenRequest::Refresh {
                refresh_token,
                client_id,
            } => {
                let renewal = self.sessions.rotate(refresh_token, client_id, now)?;
                Ok(Issuance {
                    user: renewal.user,
                    client_id: renewal.client_id,
                    scope: renewal.scope,
                    nonce: None,
                    refresh_token: renewal.refresh_token,
                })
            }
        }
    }

    /// The tokens a grant is worth. The access token is exactly what
    /// `dev-token` prints, so the API treats both alike.
    pub(super) fn tokens_for(
        &self,
        issuance: Issuance,
    ) -> Result<TokenResponse, jsonwebtoken::errors::Error> {
        Ok(TokenResponse {
            access_token: self.mint(&issuance.user)?,
            id_token: self.mint_id_token(
                &issuance.user,
                &issuance.client_id,
                issuance.nonce.as_deref(),
            )?,
            token_type: "Bearer",
            expires_in: self.token_ttl.as_secs(),
            scope: issuance.scope,
            refresh_token: issuance.refresh_token,
        })
    }

    fn claims<'a>(&'a self, user: &'a str) -> Claims<'a> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Claims {
            iss: &self.issuer,
            sub: user,
            name: user,
            iat: now,
            nbf: now,
            exp: now + self.token_ttl.as_secs(),
        }
    }

    fn sign(&self, claims: &impl Serialize) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key)
    }
}

fn key_file_error(path: &Path, error: &std::io::Error) -> DevIdpError {
    DevIdpError::KeyFile {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

fn generate_pem() -> Result<Vec<u8>, DevIdpError> {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| DevIdpError::KeyGeneration)?;
    let body = STANDARD.encode(pkcs8.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem.into_bytes())
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents)
}
