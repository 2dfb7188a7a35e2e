//! The development provider's settings and its place on the API's origin.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::clients::Clients;
use super::grants::Resource;

/// Where the provider lives on the API's origin.
pub const PATH: &str = "/dev-idp";

/// How long a development token lives unless `DEV_IDP_TOKEN_TTL_SECS` says
/// otherwise (and always for `quotes-api dev-token`).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// The longest token lifetime the provider accepts: a day. Longer-lived
/// tokens would hide the renewal paths that development is meant to show.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(86_400);

/// Settings of the development provider.
#[derive(Debug, Clone)]
pub struct DevIdpSettings {
    /// PEM file holding the signing key, so tokens survive restarts.
    pub key_file: PathBuf,
    /// How long access and ID tokens live (`exp - iat`, `expires_in`).
    pub token_ttl: Duration,
    /// The resource (RFC 8707) its access tokens are for, which a request
    /// may name and bound tokens carry as `aud`; `None`: the API's own
    /// origin, `http://` and the address it listens on.
    pub resource: Option<Resource>,
    /// Clients with a secret (`DEV_IDP_CLIENTS`): they may use the
    /// client-credentials grant, introspection and revocation.
    pub clients: Clients,
}

impl DevIdpSettings {
    /// The key in `key_file`, and every other setting at its default.
    pub fn new(key_file: PathBuf) -> Self {
        Self {
            key_file,
            token_ttl: TOKEN_LIFETIME,
            resource: None,
            clients: Clients::default(),
        }
    }
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
