//! A small OpenID Connect provider for development, hosted by the API
//! itself under `/dev-idp`, so the whole system runs with no account
//! anywhere.
//!
//! It is off unless asked for (`--dev-idp` / `DEV_IDP=1`), refuses to run on
//! anything but a loopback address, and says so loudly at start. The API
//! verifies its tokens like any provider's: discovery, then the JWKS, over
//! HTTP, with no special case in the verifier.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{HttpResponse, web};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::json;

/// Where the provider lives on the API's origin.
pub const PATH: &str = "/dev-idp";

/// How long a development token lives.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Settings of the development provider.
#[derive(Debug, Clone)]
pub struct DevIdpConfig {
    /// PEM file holding the signing key, so tokens survive restarts.
    pub key_file: PathBuf,
}

/// Why the development provider cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DevIdpError {
    #[error("DEV_IDP_KEY_FILE {path}: {message}")]
    KeyFile { path: String, message: String },
    #[error("cannot generate a signing key")]
    KeyGeneration,
}

/// The provider's issuer URL for an API listening on `addr`.
pub fn issuer_for(addr: SocketAddr) -> String {
    format!("http://{addr}{PATH}")
}

/// The provider: one signing key and the issuer it signs for.
pub struct DevIdp {
    issuer: String,
    kid: String,
    key: EncodingKey,
    jwk: Jwk,
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

impl DevIdp {
    /// Loads the key from `config.key_file`, creating it when missing.
    pub fn load_or_create(config: &DevIdpConfig, issuer: String) -> Result<Self, DevIdpError> {
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
        Self::from_pem(&pem, issuer).map_err(|message| DevIdpError::KeyFile {
            path: path.display().to_string(),
            message,
        })
    }

    /// Loads an existing key, for `quotes-api dev-token`.
    pub fn load(config: &DevIdpConfig, issuer: String) -> Result<Self, DevIdpError> {
        let path = &config.key_file;
        let pem = std::fs::read(path).map_err(|e| DevIdpError::KeyFile {
            path: path.display().to_string(),
            message: format!("{e}; start `quotes-api --dev-idp` once to create it"),
        })?;
        Self::from_pem(&pem, issuer).map_err(|message| DevIdpError::KeyFile {
            path: path.display().to_string(),
            message,
        })
    }

    fn from_pem(pem: &[u8], issuer: String) -> Result<Self, String> {
        let key =
            EncodingKey::from_ec_pem(pem).map_err(|e| format!("not a P-256 private key ({e})"))?;
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).map_err(|e| e.to_string())?;
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| e.to_string())?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(Self {
            issuer,
            kid,
            key,
            jwk,
        })
    }

    /// The issuer this provider signs for.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A signed token for `user`.
    pub fn mint(&self, user: &str) -> Result<String, jsonwebtoken::errors::Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        let claims = Claims {
            iss: &self.issuer,
            sub: user,
            name: user,
            iat: now,
            nbf: now,
            exp: now + TOKEN_LIFETIME.as_secs(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
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

/// The provider's routes, under [`PATH`].
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(PATH)
            .route(
                "/.well-known/openid-configuration",
                web::get().to(discovery),
            )
            .route("/jwks.json", web::get().to(jwks)),
    );
}

async fn discovery(idp: web::Data<DevIdp>) -> HttpResponse {
    let issuer = idp.issuer();
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks.json"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
}

async fn jwks(idp: web::Data<DevIdp>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "public, max-age=300"))
        .json(json!({ "keys": [idp.jwk] }))
}
