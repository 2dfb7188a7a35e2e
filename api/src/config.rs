//! Typed configuration, parsed once at start from flags and environment
//! variables (the variable names are part of the HTTP contract).
//!
//! clap reads the raw values; [`Config::from_args`] turns them into typed
//! structs and reports the first bad value as one line naming its variable.
//! Values that may carry secrets (`DATABASE_URL`, `CLERK_WEBHOOK_SIGNING_SECRET`)
//! are read as plain strings so that clap never echoes them in an error.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;
use url::Url;

use crate::auth::clerk;
use crate::auth::jwks::VerifyingKey;
use crate::auth::keys::is_secure_source;
use crate::db::DatabaseUrl;
use crate::dev_idp::DevIdpConfig;
use crate::web_app::WebConfig;
use crate::webhooks::SigningSecret;

/// Command line of `quotes-api`.
#[derive(Debug, Parser)]
#[command(
    name = "quotes-api",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// What the binary does; serving is the default.
#[derive(Debug, Subcommand)]
#[expect(clippy::large_enum_variant, reason = "parsed once at start")]
pub enum Command {
    /// Apply pending migrations, then serve HTTP (the default).
    Serve(ServeArgs),
    /// Apply pending migrations and exit.
    Migrate(MigrateArgs),
    /// Print a token from the development identity provider (for curl and scripts).
    DevToken(DevTokenArgs),
    /// Print the OpenAPI document (YAML), as committed in `openapi.yaml`.
    Openapi,
    /// Exit 0 when the local server's `/readyz` answers 200 (for container
    /// health checks in images without curl).
    Healthcheck(HealthcheckArgs),
}

/// Arguments of `migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// Create the database first when it does not exist.
    #[arg(long)]
    pub create_database: bool,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Arguments of `healthcheck`.
#[derive(Debug, Clone, Args)]
pub struct HealthcheckArgs {
    /// The server's listen address; an unspecified IP (0.0.0.0) means loopback.
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8080")]
    pub bind_addr: String,
}

/// Arguments of `dev-token`.
#[derive(Debug, Clone, Args)]
pub struct DevTokenArgs {
    /// The user id (`sub`) the token speaks for.
    pub user: String,

    /// Address of the API whose development provider signs (its issuer).
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8080")]
    pub bind_addr: String,

    /// The development provider's signing key.
    #[arg(long, env = "DEV_IDP_KEY_FILE", default_value = DEFAULT_DEV_IDP_KEY_FILE)]
    pub dev_idp_key_file: PathBuf,
}

/// Where the development provider keeps its key unless told otherwise.
pub const DEFAULT_DEV_IDP_KEY_FILE: &str = ".quotes-dev-idp.pem";

/// Everything `serve` needs.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8080")]
    pub bind_addr: String,

    /// HTTP worker threads, each with its share of the database pool
    /// (default: one per CPU core; never more than the pool has connections).
    #[arg(long, env = "HTTP_WORKERS")]
    pub http_workers: Option<String>,

    /// Seconds that in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value = "10")]
    pub shutdown_timeout_secs: String,

    /// Seconds a whole request (reading the body included) may take before
    /// it is answered 408.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value = "15")]
    pub request_timeout_secs: String,

    /// Comma-separated origins allowed to call the API from a browser.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", default_value = "")]
    pub cors_allowed_origins: String,

    /// Log format: `text` (readable) or `json` (one object per line).
    #[arg(long, env = "LOG_FORMAT", default_value = "text")]
    pub log_format: String,

    /// Host the development identity provider under /dev-idp. Loopback
    /// addresses only; never in production.
    #[arg(
        long,
        env = "DEV_IDP",
        value_parser = clap::builder::BoolishValueParser::new(),
        num_args = 0..=1,
        default_value = "false",
        default_missing_value = "true"
    )]
    pub dev_idp: bool,

    /// The development provider's signing key (created when missing).
    #[arg(long, env = "DEV_IDP_KEY_FILE", default_value = DEFAULT_DEV_IDP_KEY_FILE)]
    pub dev_idp_key_file: PathBuf,

    /// Signing Secret (`whsec_...`) of the Clerk webhook endpoint; enables
    /// `POST /webhooks/clerk`.
    #[arg(long, env = "CLERK_WEBHOOK_SIGNING_SECRET", hide_env_values = true)]
    pub clerk_webhook_signing_secret: Option<String>,

    /// A listener of its own for Prometheus' `GET /metrics` (e.g.
    /// 127.0.0.1:9464 or, in a container, 0.0.0.0:9464); unset: no such listener.
    #[arg(long, env = "METRICS_BIND_ADDR")]
    pub metrics_bind_addr: Option<String>,

    /// Serve `/metrics` on the API's listener as well (answered 404 there
    /// otherwise); only behind a proxy that keeps it from the public.
    #[arg(
        long,
        env = "METRICS_ON_API_LISTENER",
        value_parser = clap::builder::BoolishValueParser::new(),
        num_args = 0..=1,
        default_value = "false",
        default_missing_value = "true"
    )]
    pub metrics_on_api_listener: bool,

    /// Peers (IP addresses or CIDR ranges, comma-separated) whose
    /// `Forwarded` / `X-Forwarded-*` headers are believed: the reverse
    /// proxies in front of this server.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,

    /// Serve the web app's static bundle (`cargo xtask web` makes it in
    /// `web/dist`) from this folder, with a `config.json` for it.
    #[arg(long, env = "WEB_DIR")]
    pub web_dir: Option<PathBuf>,

    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub auth: AuthArgs,
}

/// Database settings, shared by `serve` and `migrate`.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Postgres URL; `sslmode` and `sslrootcert` are understood as libpq does.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Most database connections the process keeps open, shared out
    /// between the HTTP workers.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value = "8")]
    pub database_pool_size: String,

    /// Milliseconds a request may wait for a free connection before it gets 503.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT_MS", default_value = "2000")]
    pub database_acquire_timeout_ms: String,

    /// Milliseconds allowed to open a connection.
    #[arg(long, env = "DATABASE_CONNECT_TIMEOUT_MS", default_value = "3000")]
    pub database_connect_timeout_ms: String,

    /// Postgres `statement_timeout` for every connection, in milliseconds.
    #[arg(long, env = "DATABASE_STATEMENT_TIMEOUT_MS", default_value = "5000")]
    pub database_statement_timeout_ms: String,
}

/// Identity provider settings.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// Exact `iss` that tokens must carry.
    #[arg(long, env = "AUTH_ISSUER")]
    pub auth_issuer: Option<String>,

    /// Where the signing keys are (default: discovered from the issuer).
    #[arg(long, env = "AUTH_JWKS_URL")]
    pub auth_jwks_url: Option<String>,

    /// Comma-separated audiences; when set, `aud` must contain one of them.
    #[arg(long, env = "AUTH_AUDIENCE")]
    pub auth_audience: Option<String>,

    /// Comma-separated origins; when set, `azp` must be one of them.
    #[arg(long, env = "AUTH_AUTHORIZED_PARTIES")]
    pub auth_authorized_parties: Option<String>,

    /// Clock skew in seconds allowed on `exp`, `nbf` and `iat`.
    #[arg(long, env = "AUTH_LEEWAY_SECS", default_value = "5")]
    pub auth_leeway_secs: String,

    /// Clerk publishable key (`pk_test_...`/`pk_live_...`); the issuer and
    /// the JWKS URL are derived from it.
    #[arg(long, env = "CLERK_PUBLISHABLE_KEY")]
    pub clerk_publishable_key: Option<String>,

    /// Clerk's PEM "JWKS Public Key": verify with this key alone, no network.
    #[arg(long, env = "CLERK_JWT_KEY", hide_env_values = true)]
    pub clerk_jwt_key: Option<String>,
}

/// A bad setting: which variable, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl ConfigError {
    pub fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self {
            variable,
            message: message.into(),
        }
    }
}

/// The whole configuration of `serve`.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind_addr: SocketAddr,
    pub http_workers: Option<usize>,
    pub shutdown_timeout: Duration,
    pub request_timeout: Duration,
    pub cors_allowed_origins: Vec<String>,
    pub log_format: LogFormat,
    pub metrics: MetricsConfig,
    /// Peers whose forwarded headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    /// Set when the development identity provider is on; `auth` then trusts it.
    pub dev_idp: Option<DevIdpConfig>,
    /// Set when Clerk's webhooks are enabled (`POST /webhooks/clerk`).
    pub clerk_webhook_secret: Option<SigningSecret>,
    /// Set when the server also serves the web app (`--web-dir`).
    pub web: Option<WebConfig>,
}

/// Where metrics are served.
#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    /// A listener of their own.
    pub bind_addr: Option<SocketAddr>,
    /// On the API's listener too.
    pub on_api_listener: bool,
}

/// How the pool reaches Postgres.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: DatabaseUrl,
    pub pool_size: usize,
    pub acquire_timeout: Duration,
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
}

/// Which tokens are accepted.
#[derive(Clone)]
pub struct AuthConfig {
    pub issuer: String,
    pub jwks_url: Option<Url>,
    pub audiences: Vec<String>,
    pub authorized_parties: Vec<String>,
    pub leeway: Duration,
    /// Clerk's own rules apply too (its token categories and session status).
    pub clerk: bool,
    /// A key configured up front (Clerk's PEM key); no JWKS is fetched then.
    pub static_key: Option<Arc<VerifyingKey>>,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("issuer", &self.issuer)
            .field("jwks_url", &self.jwks_url.as_ref().map(Url::as_str))
            .field("audiences", &self.audiences)
            .field("authorized_parties", &self.authorized_parties)
            .field("leeway", &self.leeway)
            .field("clerk", &self.clerk)
            .field("static_key", &self.static_key.is_some())
            .finish()
    }
}

/// Log output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// Parses the raw `serve` arguments into a typed configuration.
    pub fn from_args(args: &ServeArgs) -> Result<Self, ConfigError> {
        let bind_addr = args.bind_addr.parse().map_err(|_| {
            ConfigError::new("BIND_ADDR", "expected an address such as 127.0.0.1:8080")
        })?;
        let http_workers = args
            .http_workers
            .as_deref()
            .map(|raw| positive("HTTP_WORKERS", raw))
            .transpose()?;
        let log_format = match args.log_format.trim() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => return Err(ConfigError::new("LOG_FORMAT", "expected `text` or `json`")),
        };
        let (auth, dev_idp) = if args.dev_idp {
            (
                AuthConfig::development(bind_addr, &args.auth)?,
                Some(DevIdpConfig {
                    key_file: args.dev_idp_key_file.clone(),
                }),
            )
        } else {
            (AuthConfig::from_args(&args.auth)?, None)
        };
        Ok(Self {
            bind_addr,
            http_workers,
            shutdown_timeout: Duration::from_secs(number(
                "SHUTDOWN_TIMEOUT_SECS",
                &args.shutdown_timeout_secs,
            )?),
            request_timeout: Duration::from_secs(
                u64::try_from(positive(
                    "REQUEST_TIMEOUT_SECS",
                    &args.request_timeout_secs,
                )?)
                .unwrap_or(u64::MAX),
            ),
            cors_allowed_origins: origins("CORS_ALLOWED_ORIGINS", &args.cors_allowed_origins)?,
            log_format,
            metrics: MetricsConfig {
                bind_addr: non_empty(args.metrics_bind_addr.as_deref())
                    .map(|raw| {
                        raw.parse().map_err(|_| {
                            ConfigError::new(
                                "METRICS_BIND_ADDR",
                                "expected an address such as 127.0.0.1:9464",
                            )
                        })
                    })
                    .transpose()?,
                on_api_listener: args.metrics_on_api_listener,
            },
            trusted_proxies: trusted_proxies(&args.trusted_proxies)?,
            database: DatabaseConfig::from_args(&args.database)?,
            auth,
            dev_idp,
            clerk_webhook_secret: args
                .clerk_webhook_signing_secret
                .as_deref()
                .map(webhook_secret)
                .transpose()?,
            web: web_config(args)?,
        })
    }
}

/// `--web-dir` must name a folder holding `index.html`.
fn web_config(args: &ServeArgs) -> Result<Option<WebConfig>, ConfigError> {
    let Some(dir) = args
        .web_dir
        .as_ref()
        .filter(|dir| !dir.as_os_str().is_empty())
    else {
        return Ok(None);
    };
    if !dir.join("index.html").is_file() {
        return Err(ConfigError::new(
            "WEB_DIR",
            format!(
                "{} has no index.html (build the bundle with `cargo xtask web`)",
                dir.display()
            ),
        ));
    }
    Ok(Some(WebConfig {
        dir: dir.clone(),
        clerk_publishable_key: non_empty(args.auth.clerk_publishable_key.as_deref())
            .map(str::to_owned),
    }))
}

/// The message names the variable and the problem, never the value.
fn webhook_secret(raw: &str) -> Result<SigningSecret, ConfigError> {
    SigningSecret::parse(raw)
        .map_err(|error| ConfigError::new("CLERK_WEBHOOK_SIGNING_SECRET", error.to_string()))
}

impl DatabaseConfig {
    /// Parses the database arguments.
    pub fn from_args(args: &DatabaseArgs) -> Result<Self, ConfigError> {
        let raw = args
            .database_url
            .as_deref()
            .filter(|url| !url.trim().is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    "DATABASE_URL",
                    "required, e.g. postgres://postgres@127.0.0.1:5432/quotes",
                )
            })?;
        let url =
            DatabaseUrl::parse(raw).map_err(|message| ConfigError::new("DATABASE_URL", message))?;
        Ok(Self {
            url,
            pool_size: positive("DATABASE_POOL_SIZE", &args.database_pool_size)?,
            acquire_timeout: millis(
                "DATABASE_ACQUIRE_TIMEOUT_MS",
                &args.database_acquire_timeout_ms,
            )?,
            connect_timeout: millis(
                "DATABASE_CONNECT_TIMEOUT_MS",
                &args.database_connect_timeout_ms,
            )?,
            statement_timeout: millis(
                "DATABASE_STATEMENT_TIMEOUT_MS",
                &args.database_statement_timeout_ms,
            )?,
        })
    }
}

impl AuthConfig {
    /// Parses the identity provider arguments. The issuer comes from
    /// `AUTH_ISSUER` or, for Clerk, from the publishable key; when both are
    /// given they must agree.
    pub fn from_args(args: &AuthArgs) -> Result<Self, ConfigError> {
        let clerk_frontend_api = non_empty(args.clerk_publishable_key.as_deref())
            .map(|key| {
                clerk::frontend_api_from_publishable_key(key)
                    .map_err(|message| ConfigError::new("CLERK_PUBLISHABLE_KEY", message))
            })
            .transpose()?;
        let clerk_frontend_api = clerk_frontend_api
            .map(|derived| normal_issuer("CLERK_PUBLISHABLE_KEY", &derived))
            .transpose()?;
        let configured = non_empty(args.auth_issuer.as_deref())
            .map(|raw| normal_issuer("AUTH_ISSUER", raw))
            .transpose()?;
        // Both in one normal form, so `https://Clerk.example.com/` and the
        // key's `https://clerk.example.com` are one issuer, stored as Clerk
        // writes it in its tokens.
        let issuer = match (configured, &clerk_frontend_api) {
            (Some(issuer), Some(derived)) if issuer.trim_end_matches('/') != derived => {
                return Err(ConfigError::new(
                    "CLERK_PUBLISHABLE_KEY",
                    format!("belongs to {derived}, but AUTH_ISSUER is {issuer}"),
                ));
            }
            (_, Some(derived)) => derived.clone(),
            (Some(issuer), None) => issuer,
            (None, None) => {
                return Err(ConfigError::new(
                    "AUTH_ISSUER",
                    "required (or CLERK_PUBLISHABLE_KEY), e.g. https://clerk.example.com",
                ));
            }
        };
        let static_key = non_empty(args.clerk_jwt_key.as_deref())
            .map(|pem| {
                clerk::verifying_key_from_pem(pem)
                    .map(Arc::new)
                    .map_err(|message| ConfigError::new("CLERK_JWT_KEY", message))
            })
            .transpose()?;
        let configured_jwks = non_empty(args.auth_jwks_url.as_deref())
            .map(|raw| http_url("AUTH_JWKS_URL", raw))
            .transpose()?;
        if static_key.is_some() && configured_jwks.is_some() {
            return Err(ConfigError::new(
                "AUTH_JWKS_URL",
                "cannot be combined with CLERK_JWT_KEY, which replaces the JWKS",
            ));
        }
        // Clerk serves its keys at the Frontend API's well-known path.
        let jwks_url = match (configured_jwks, &clerk_frontend_api) {
            (Some(url), _) => Some(url),
            (None, Some(frontend_api)) => Some(http_url(
                "CLERK_PUBLISHABLE_KEY",
                &format!("{frontend_api}/.well-known/jwks.json"),
            )?),
            (None, None) => None,
        };
        // Whoever can change the keys in transit can sign in as anyone.
        if static_key.is_none() {
            let (variable, first_fetch) = match &jwks_url {
                Some(url) => ("AUTH_JWKS_URL", url.clone()),
                None => (
                    "AUTH_ISSUER",
                    Url::parse(&issuer)
                        .map_err(|e| ConfigError::new("AUTH_ISSUER", format!("not a URL ({e})")))?,
                ),
            };
            if !is_secure_source(&first_fetch) {
                return Err(ConfigError::new(
                    variable,
                    format!(
                        "signing keys are fetched over https only, except from this machine \
                         (localhost, 127.0.0.1, [::1]); {first_fetch} is neither"
                    ),
                ));
            }
        }
        Ok(Self {
            issuer,
            jwks_url,
            audiences: list(args.auth_audience.as_deref().unwrap_or_default()),
            authorized_parties: origins(
                "AUTH_AUTHORIZED_PARTIES",
                args.auth_authorized_parties.as_deref().unwrap_or_default(),
            )?,
            leeway: leeway(&args.auth_leeway_secs)?,
            clerk: clerk_frontend_api.is_some() || static_key.is_some(),
            static_key,
        })
    }
}

/// Most clock skew `AUTH_LEEWAY_SECS` may allow. Beyond a few minutes it
/// stops being skew and starts keeping expired tokens alive.
pub const MAX_LEEWAY_SECS: u64 = 300;

fn leeway(raw: &str) -> Result<Duration, ConfigError> {
    match number("AUTH_LEEWAY_SECS", raw)? {
        secs if secs > MAX_LEEWAY_SECS => Err(ConfigError::new(
            "AUTH_LEEWAY_SECS",
            format!("must be at most {MAX_LEEWAY_SECS} seconds, got {secs}"),
        )),
        secs => Ok(Duration::from_secs(secs)),
    }
}

/// An issuer in the one form it is compared and stored in: scheme and host
/// in lower case, no default port, no query, fragment or credentials, and
/// the path as written. A trailing slash after the host is kept only when
/// written, since it is part of some providers' issuers (Auth0's) and not
/// of others' (Clerk's), and `iss` is compared exactly.
fn normal_issuer(variable: &'static str, raw: &str) -> Result<String, ConfigError> {
    let raw = raw.trim();
    let url =
        Url::parse(raw).map_err(|e| ConfigError::new(variable, format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::new(variable, "must be an http(s) URL"));
    }
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(ConfigError::new(
            variable,
            "must be a plain URL, without query, fragment or credentials",
        ));
    }
    let mut normal = url.to_string();
    if url.path() == "/" && !raw.ends_with('/') {
        normal.pop();
    }
    Ok(normal)
}

fn non_empty(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|value| !value.is_empty())
}

impl AuthConfig {
    /// Trust the development provider hosted by this very process. It is
    /// refused on any address other people could reach, and next to a real
    /// provider's settings, so that it cannot be switched on by accident.
    fn development(bind_addr: SocketAddr, args: &AuthArgs) -> Result<Self, ConfigError> {
        if !bind_addr.ip().is_loopback() {
            return Err(ConfigError::new(
                "DEV_IDP",
                format!(
                    "the development identity provider only runs on a loopback BIND_ADDR \
                     (127.0.0.1 or [::1]), not {bind_addr}"
                ),
            ));
        }
        let real_provider = [
            ("AUTH_ISSUER", &args.auth_issuer),
            ("AUTH_JWKS_URL", &args.auth_jwks_url),
            ("AUTH_AUDIENCE", &args.auth_audience),
            ("AUTH_AUTHORIZED_PARTIES", &args.auth_authorized_parties),
            ("CLERK_PUBLISHABLE_KEY", &args.clerk_publishable_key),
            ("CLERK_JWT_KEY", &args.clerk_jwt_key),
        ];
        if let Some((variable, _)) = real_provider
            .iter()
            .find(|(_, value)| value.as_deref().is_some_and(|v| !v.trim().is_empty()))
        {
            return Err(ConfigError::new(
                "DEV_IDP",
                format!("cannot be combined with {variable}; use one identity provider"),
            ));
        }
        Ok(Self {
            issuer: crate::dev_idp::issuer_for(bind_addr),
            jwks_url: None,
            audiences: Vec::new(),
            authorized_parties: Vec::new(),
            leeway: leeway(&args.auth_leeway_secs)?,
            clerk: false,
            static_key: None,
        })
    }
}

/// Addresses or CIDR ranges; a bare address is a range of one.
fn trusted_proxies(raw: &str) -> Result<Vec<IpNet>, ConfigError> {
    list(raw)
        .into_iter()
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    ConfigError::new(
                        "TRUSTED_PROXIES",
                        format!("`{item}` is not an IP address or CIDR range such as 10.0.0.0/8"),
                    )
                })
        })
        .collect()
}

fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Origins are compared byte for byte with what browsers send, so they are
/// normalised the same way: no trailing slash, no path.
fn origins(variable: &'static str, raw: &str) -> Result<Vec<String>, ConfigError> {
    list(raw)
        .into_iter()
        .map(|origin| {
            let url = http_url(variable, &origin)?;
            if url.path() != "/" || url.query().is_some() {
                return Err(ConfigError::new(
                    variable,
                    format!("`{origin}` is not an origin (scheme://host[:port], no path)"),
                ));
            }
            Ok(url.origin().ascii_serialization())
        })
        .collect()
}

fn http_url(variable: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw)
        .map_err(|e| ConfigError::new(variable, format!("`{raw}` is not a URL ({e})")))?;
    if matches!(url.scheme(), "http" | "https") {
        Ok(url)
    } else {
        Err(ConfigError::new(
            variable,
            format!("`{raw}` must be an http(s) URL"),
        ))
    }
}

fn number(variable: &'static str, raw: &str) -> Result<u64, ConfigError> {
    raw.trim()
        .parse()
        .map_err(|_| ConfigError::new(variable, format!("expected a whole number, got `{raw}`")))
}

fn positive(variable: &'static str, raw: &str) -> Result<usize, ConfigError> {
    match number(variable, raw)? {
        0 => Err(ConfigError::new(variable, "must be at least 1")),
        n => usize::try_from(n).map_err(|_| ConfigError::new(variable, "is too large")),
    }
}

fn millis(variable: &'static str, raw: &str) -> Result<Duration, ConfigError> {
    match number(variable, raw)? {
        0 => Err(ConfigError::new(variable, "must be at least 1 millisecond")),
        n => Ok(Duration::from_millis(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_like_browser_origin_headers() {
        let parsed = origins("X", "https://app.example.com/, http://localhost:3000").unwrap();
        assert_eq!(parsed, ["https://app.example.com", "http://localhost:3000"]);
    }

    #[test]
    fn an_origin_with_a_path_is_refused_with_the_variable_name() {
        let err = origins("CORS_ALLOWED_ORIGINS", "https://app.example.com/app").unwrap_err();
        assert_eq!(err.variable, "CORS_ALLOWED_ORIGINS");
    }

    #[test]
    fn a_bad_webhook_secret_is_named_but_not_shown() {
        let err = webhook_secret("sk_live_topsecretvalue").unwrap_err();
        assert_eq!(err.variable, "CLERK_WEBHOOK_SIGNING_SECRET");
        assert!(!err.to_string().contains("topsecretvalue"), "{err}");
        assert!(webhook_secret("whsec_c2VjcmV0").is_ok());
    }

    #[test]
    fn issuers_have_one_normal_form() {
        let normal = |raw| normal_issuer("AUTH_ISSUER", raw).unwrap();
        assert_eq!(
            normal(" HTTPS://Clerk.Example.com "),
            "https://clerk.example.com"
        );
        assert_eq!(
            normal("https://tenant.auth0.com/"),
            "https://tenant.auth0.com/"
        );
        assert_eq!(
            normal("https://idp.example.com:443/realms/Quotes"),
            "https://idp.example.com/realms/Quotes"
        );
        for refused in [
            "https://idp.example.com/?x=1",
            "https://u:p@idp.example.com",
            "mailto:a@b",
        ] {
            assert!(normal_issuer("AUTH_ISSUER", refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn a_clerk_key_and_its_issuer_written_otherwise_are_one_issuer() {
        let args = AuthArgs {
            auth_issuer: Some("HTTPS://Clerk.Example.com/".to_owned()),
            auth_jwks_url: None,
            auth_audience: None,
            auth_authorized_parties: None,
            auth_leeway_secs: "5".to_owned(),
            // pk_test_ + base64("clerk.example.com$")
            clerk_publishable_key: Some("pk_test_Y2xlcmsuZXhhbXBsZS5jb20k".to_owned()),
            clerk_jwt_key: None,
        };
        let config = AuthConfig::from_args(&args).unwrap();
        assert_eq!(config.issuer, "https://clerk.example.com");
        let other = AuthArgs {
            auth_issuer: Some("https://clerk.other.example".to_owned()),
            ..args
        };
        let err = AuthConfig::from_args(&other).unwrap_err();
        assert_eq!(err.variable, "CLERK_PUBLISHABLE_KEY");
    }

    #[test]
    fn the_leeway_is_at_most_five_minutes() {
        assert_eq!(leeway("300").unwrap(), Duration::from_secs(300));
        let err = leeway("99999999999").unwrap_err();
        assert_eq!(err.variable, "AUTH_LEEWAY_SECS");
        assert!(err.to_string().contains("at most 300"), "{err}");
    }

    #[test]
    fn zero_pool_size_is_refused() {
        assert!(positive("DATABASE_POOL_SIZE", "0").is_err());
        assert_eq!(positive("DATABASE_POOL_SIZE", " 4 ").unwrap(), 4);
    }
}
