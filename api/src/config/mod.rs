//! Configuration, parsed once at start from flags and environment
//! variables (the variable names are part of the HTTP contract) into each
//! part's own settings: [`AuthSettings`], [`DatabaseSettings`], the
//! development provider's (with the `dev-idp` feature), [`WebAppSettings`],
//! and the server's own below.
//!
//! clap reads the raw values ([`cli`]); the functions here turn them into
//! typed settings and report the first bad value as one line naming its
//! variable. Nothing below this module imports it.

mod auth;
pub use self::auth::auth_settings;
pub mod cli;
mod values;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

pub use self::cli::{
    AuthArgs, Cli, Command, DEFAULT_DEV_IDP_KEY_FILE, DatabaseArgs, DevTokenArgs, HealthcheckArgs,
    MigrateArgs, ServeArgs,
};
pub use self::values::ConfigError;
use self::values::{millis, non_empty, number, origins, positive, trusted_proxies};
#[cfg(feature = "dev-idp")]
use crate::dev_idp::{self, Clients, DevIdpSettings};
use crate::http::connection::ConnectionSettings;
use crate::http::proxies::TrustedProxies;
pub use crate::logging::LogFormat;
use crate::web_app::WebAppSettings;
use quotes_core::auth::AuthSettings;
use quotes_core::db::{DatabaseSettings, DatabaseUrl};
use quotes_core::rate_limit::RateLimitSettings;
use quotes_core::webhooks::SigningSecret;

/// The whole configuration of `serve`.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind_addr: SocketAddr,
    pub http_workers: Option<usize>,
    pub shutdown_timeout: Duration,
    /// How long the server keeps serving after SIGTERM/SIGINT, not ready.
    pub shutdown_drain: Duration,
    pub request_timeout: Duration,
    /// Deadlines and limits of the server's connections.
    pub connections: ConnectionSettings,
    pub cors_allowed_origins: Vec<String>,
    pub log_format: LogFormat,
    pub metrics: MetricsConfig,
    /// Peers whose forwarded headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// Each caller's share; `None` when `RATE_LIMIT_PER_MINUTE=off`.
    pub rate_limit: Option<RateLimitSettings>,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    /// Set when the development identity provider is on; `auth` then trusts it.
    #[cfg(feature = "dev-idp")]
    pub dev_idp: Option<DevIdpSettings>,
    /// Set when Clerk's webhooks are enabled (`POST /webhooks/clerk`).
    pub clerk_webhook_secret: Option<SigningSecret>,
    /// Set when the server also serves the web app (`--web-dir`).
    pub web: Option<WebAppSettings>,
    /// The client Swagger UI's Authorize signs in as; `None`: Authorize
    /// only takes a pasted token.
    pub docs_client_id: Option<String>,
}

/// Where metrics are served.
#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    /// A listener of their own.
    pub bind_addr: Option<SocketAddr>,
    /// On the API's listener too.
    pub on_api_listener: bool,
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
        let request_timeout = Duration::from_secs(
            u64::try_from(positive(
                "REQUEST_TIMEOUT_SECS",
                &args.request_timeout_secs,
            )?)
            .unwrap_or(u64::MAX),
        );
        #[cfg(feature = "dev-idp")]
        let (auth, dev_idp) = development_provider(args, bind_addr)?;
        #[cfg(not(feature = "dev-idp"))]
        let auth = if args.dev_idp {
            return Err(ConfigError::new("DEV_IDP", NO_DEV_IDP));
        } else {
            auth_settings(&args.auth)?
        };
        Ok(Self {
            bind_addr,
            http_workers,
            shutdown_timeout: Duration::from_secs(number(
                "SHUTDOWN_TIMEOUT_SECS",
                &args.shutdown_timeout_secs,
            )?),
            shutdown_drain: Duration::from_secs(number(
                "SHUTDOWN_DRAIN_SECS",
                &args.shutdown_drain_secs,
            )?),
            request_timeout,
            connections: ConnectionSettings {
                header_timeout: seconds(
                    "HTTP_HEADER_TIMEOUT_SECS",
                    &args.http_header_timeout_secs,
                )?,
                // An answer the client takes none of holds the connection
                // no longer than a request may take.
                send_timeout: request_timeout,
                keep_alive: seconds("HTTP_KEEP_ALIVE_SECS", &args.http_keep_alive_secs)?,
                max_connections: non_empty(args.http_max_connections.as_deref())
                    .map(|raw| positive("HTTP_MAX_CONNECTIONS", raw))
                    .transpose()?,
                max_per_address: off_or_positive(
                    "HTTP_MAX_CONNECTIONS_PER_ADDRESS",
                    &args.http_max_connections_per_address,
                )?,
            },
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
            trusted_proxies: TrustedProxies::new(trusted_proxies(&args.trusted_proxies)?),
            rate_limit: rate_limit(&args.rate_limit_per_minute, &args.rate_limit_burst)?,
            database: database_settings(&args.database)?,
            auth,
            #[cfg(feature = "dev-idp")]
            dev_idp,
            clerk_webhook_secret: args
                .clerk_webhook_signing_secret
                .as_deref()
                .map(webhook_secret)
                .transpose()?,
            web: web_config(args)?,
            docs_client_id: docs_client_id(args),
        })
    }
}

/// `DOCS_CLIENT_ID`, or with the development provider a client of its own.
fn docs_client_id(args: &ServeArgs) -> Option<String> {
    non_empty(args.auth.docs_client_id.as_deref())
        .map(str::to_owned)
        .or_else(|| args.dev_idp.then(|| DOCS_DEV_CLIENT_ID.to_owned()))
}

/// The client id Swagger UI signs in with at the development provider.
pub const DOCS_DEV_CLIENT_ID: &str = "quotes-docs";

/// `--web-dir` must name a folder holding `index.html`.
fn web_config(args: &ServeArgs) -> Result<Option<WebAppSettings>, ConfigError> {
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
    Ok(Some(WebAppSettings {
        dir: dir.clone(),
        clerk_publishable_key: non_empty(args.auth.clerk_publishable_key.as_deref())
            .map(str::to_owned),
    }))
}

/// What a build without the development provider says to `DEV_IDP=1`.
pub const NO_DEV_IDP: &str = "this build of quotes-api has no development identity provider \
     (a release build leaves it out); build it with `--features dev-idp`, as `cargo xtask run` does";

/// The identity provider's settings, and the development provider's when
/// it is on (the API then trusts it alone).
#[cfg(feature = "dev-idp")]
fn development_provider(
    args: &ServeArgs,
    bind_addr: SocketAddr,
) -> Result<(AuthSettings, Option<DevIdpSettings>), ConfigError> {
    // Checked even with the provider off: a bad value is a mistake worth
    // hearing about before the day it is switched on.
    let token_ttl = dev_idp_token_ttl(&args.dev_idp_token_ttl_secs)?;
    let clients = Clients::parse(args.dev_idp_clients.as_deref().unwrap_or_default())
        .map_err(|message| ConfigError::new("DEV_IDP_CLIENTS", message))?;
    if !args.dev_idp {
        return Ok((auth_settings(&args.auth)?, None));
    }
    Ok((
        auth::development_auth_settings(bind_addr, &args.auth)?,
        Some(DevIdpSettings {
            token_ttl,
            clients,
            ..DevIdpSettings::new(args.dev_idp_key_file.clone())
        }),
    ))
}

/// What `quotes-api dev-token` prints, read from its arguments.
#[cfg(feature = "dev-idp")]
pub fn dev_token(args: &DevTokenArgs) -> Result<dev_idp::DevToken, ConfigError> {
    let bind_addr = dev_token_bind_addr(args)?;
    if args.clerk {
        let organization = args
            .org
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|message: String| ConfigError::new("--org", message))?;
        return Ok(dev_idp::DevToken::ClerkSession(dev_idp::ClerkSession {
            user: args.user.clone(),
            authorized_party: args
                .azp
                .clone()
                .unwrap_or_else(|| format!("http://{bind_addr}")),
            organization,
            actor: args.actor.clone(),
        }));
    }
    let scopes = dev_idp::ApiScopes::parse(&args.scope)
        .map_err(|error| ConfigError::new("--scope", error.to_string()))?;
    if args.client.trim().is_empty() {
        return Err(ConfigError::new("--client", "cannot be empty"));
    }
    Ok(dev_idp::DevToken::Access(dev_idp::AccessGrant {
        scopes,
        client_id: args.client.clone(),
        ..dev_idp::AccessGrant::dev_token(&args.user)
    }))
}

/// The address whose development provider `dev-token` signs for.
#[cfg(feature = "dev-idp")]
pub fn dev_token_bind_addr(args: &DevTokenArgs) -> Result<SocketAddr, ConfigError> {
    args.bind_addr
        .parse()
        .map_err(|_| ConfigError::new("BIND_ADDR", "expected an address such as 127.0.0.1:8080"))
}

/// `DEV_IDP_TOKEN_TTL_SECS`: whole seconds, from 1 to a day.
#[cfg(feature = "dev-idp")]
fn dev_idp_token_ttl(raw: &str) -> Result<Duration, ConfigError> {
    const VARIABLE: &str = "DEV_IDP_TOKEN_TTL_SECS";
    const MAX: u64 = dev_idp::MAX_TOKEN_LIFETIME.as_secs();
    match number(VARIABLE, raw)? {
        secs @ 1..=MAX => Ok(Duration::from_secs(secs)),
        _ => Err(ConfigError::new(
            VARIABLE,
            format!("must be between 1 and {MAX} seconds"),
        )),
    }
}

/// The message names the variable and the problem, never the value.
fn webhook_secret(raw: &str) -> Result<SigningSecret, ConfigError> {
    SigningSecret::parse(raw)
        .map_err(|error| ConfigError::new("CLERK_WEBHOOK_SIGNING_SECRET", error.to_string()))
}

/// Parses the database arguments (shared by `serve` and `migrate`).
pub fn database_settings(args: &DatabaseArgs) -> Result<DatabaseSettings, ConfigError> {
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
    Ok(DatabaseSettings {
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
        pool_mode: args
            .database_pool_mode
            .parse()
            .map_err(|message| ConfigError::new("DATABASE_POOL_MODE", message))?,
    })
}

impl Config {
    /// The defaults of every flag, around the given database and identity
    /// provider: what tests and embedders start from before changing a few
    /// fields, as `quotes-api serve` would with only those two set.
    pub fn new(database: DatabaseSettings, auth: AuthSettings) -> Self {
        Self {
            bind_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            http_workers: None,
            shutdown_timeout: Duration::from_secs(10),
            shutdown_drain: Duration::ZERO,
            request_timeout: Duration::from_secs(15),
            connections: ConnectionSettings::default(),
            cors_allowed_origins: Vec::new(),
            log_format: LogFormat::Text,
            metrics: MetricsConfig::default(),
            trusted_proxies: TrustedProxies::default(),
            rate_limit: Some(RateLimitSettings::default()),
            database,
            auth,
            #[cfg(feature = "dev-idp")]
            dev_idp: None,
            clerk_webhook_secret: None,
            web: None,
            docs_client_id: None,
        }
    }
}

/// `RATE_LIMIT_PER_MINUTE` (a number, or `off`) and `RATE_LIMIT_BURST`.
fn rate_limit(per_minute: &str, burst: &str) -> Result<Option<RateLimitSettings>, ConfigError> {
    let burst = nonzero_u32("RATE_LIMIT_BURST", burst)?;
    if per_minute.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    Ok(Some(RateLimitSettings {
        per_minute: nonzero_u32("RATE_LIMIT_PER_MINUTE", per_minute)?,
        burst,
    }))
}

fn nonzero_u32(variable: &'static str, raw: &str) -> Result<NonZeroU32, ConfigError> {
    let n = positive(variable, raw)?;
    u32::try_from(n)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(|| ConfigError::new(variable, "is too large"))
}

/// A number of at least 1, or `off` for no limit.
fn off_or_positive(variable: &'static str, raw: &str) -> Result<Option<usize>, ConfigError> {
    if raw.trim().eq_ignore_ascii_case("off") {
        Ok(None)
    } else {
        positive(variable, raw).map(Some)
    }
}

fn seconds(variable: &'static str, raw: &str) -> Result<Duration, ConfigError> {
    match number(variable, raw)? {
        0 => Err(ConfigError::new(variable, "must be at least 1 second")),
        n => Ok(Duration::from_secs(n)),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn a_bad_webhook_secret_is_named_but_not_shown() {
        let err = webhook_secret("sk_live_topsecretvalue").unwrap_err();
        assert_eq!(err.variable, "CLERK_WEBHOOK_SIGNING_SECRET");
        assert!(!err.to_string().contains("topsecretvalue"), "{err}");
        assert!(webhook_secret("whsec_c2VjcmV0").is_ok());
    }

    #[test]
    #[cfg(feature = "dev-idp")]
    fn the_token_lifetime_is_a_second_to_a_day() {
        assert_eq!(dev_idp_token_ttl("60").unwrap(), Duration::from_secs(60));
        assert_eq!(
            dev_idp_token_ttl(" 86400 ").unwrap(),
            Duration::from_secs(86_400)
        );
        for bad in ["0", "86401", "-5", "1h", ""] {
            let err = dev_idp_token_ttl(bad).unwrap_err();
            assert_eq!(err.variable, "DEV_IDP_TOKEN_TTL_SECS", "{bad:?}");
        }
    }

    #[test]
    #[cfg(feature = "dev-idp")]
    fn the_provider_takes_its_token_lifetime_from_its_setting() {
        let cli = Cli::try_parse_from([
            "quotes-api",
            "--database-url",
            "postgres://postgres@127.0.0.1:5432/quotes",
            "--dev-idp",
            "--dev-idp-token-ttl-secs",
            "90",
        ])
        .unwrap();
        let config = Config::from_args(&cli.serve).unwrap();
        let settings = config.dev_idp.expect("the provider is on");
        assert_eq!(settings.token_ttl, Duration::from_secs(90));
    }

    #[test]
    #[cfg(feature = "dev-idp")]
    fn the_provider_reads_its_clients_and_resource() {
        let cli = Cli::try_parse_from([
            "quotes-api",
            "--database-url",
            "postgres://postgres@127.0.0.1:5432/quotes",
            "--dev-idp",
            "--dev-idp-clients",
            "reporter:n0t-shown:quotes:read, backup:hunter2:quotes:read quotes:write",
            "--auth-resource",
            "http://localhost:8080/",
        ])
        .unwrap();
        let config = Config::from_args(&cli.serve).unwrap();
        let printed = format!("{config:?}");
        assert!(printed.contains("reporter"), "{printed}");
        assert!(!printed.contains("n0t-shown"), "{printed}");
        // The provider's tokens are for the API's resource.
        assert_eq!(
            config.auth.resource.as_deref(),
            Some("http://localhost:8080")
        );
        let settings = config.dev_idp.expect("the provider is on");
        assert!(settings.clients.is_registered("backup"));
    }

    #[test]
    #[cfg(feature = "dev-idp")]
    fn bad_clients_and_resources_are_named_but_secrets_not_shown() {
        for (flag, value, variable) in [
            ("--dev-idp-clients", "reporter:n0t-shown", "DEV_IDP_CLIENTS"),
            (
                "--dev-idp-clients",
                "reporter:n0t-shown:admin",
                "DEV_IDP_CLIENTS",
            ),
            ("--auth-resource", "/relative", "AUTH_RESOURCE"),
        ] {
            // Checked even with the provider off.
            let cli = Cli::try_parse_from([
                "quotes-api",
                "--database-url",
                "postgres://postgres@127.0.0.1:5432/quotes",
                "--auth-issuer",
                "https://idp.example.com",
                flag,
                value,
            ])
            .unwrap();
            let err = Config::from_args(&cli.serve).unwrap_err();
            assert_eq!(err.variable, variable, "{value}");
            assert!(!err.to_string().contains("n0t-shown"), "{err}");
        }
    }

    #[test]
    #[cfg(feature = "dev-idp")]
    fn dev_token_prints_access_tokens_or_clerk_sessions() {
        let parse = |args: &[&str]| {
            let cli = Cli::try_parse_from(["quotes-api", "dev-token"].iter().chain(args))?;
            let Some(Command::DevToken(args)) = cli.command else {
                panic!("dev-token");
            };
            Ok::<_, clap::Error>(dev_token(&args))
        };
        let Ok(Ok(dev_idp::DevToken::Access(grant))) = parse(&["alice"]) else {
            panic!("an access token");
        };
        assert_eq!(grant, dev_idp::AccessGrant::dev_token("alice"));
        let Ok(Ok(dev_idp::DevToken::Access(grant))) =
            parse(&["alice", "--scope", "quotes:read", "--client", "cli"])
        else {
            panic!("an access token");
        };
        assert_eq!(grant.scopes.to_string(), "quotes:read");
        assert_eq!(grant.client_id, "cli");
        let Ok(Err(err)) = parse(&["alice", "--scope", "openid"]) else {
            panic!("an unknown scope is refused");
        };
        assert_eq!(err.variable, "--scope");

        let Ok(Ok(dev_idp::DevToken::ClerkSession(session))) = parse(&[
            "alice",
            "--clerk",
            "--org",
            "org_1:admin:acme",
            "--actor",
            "user_admin",
        ]) else {
            panic!("a Clerk session");
        };
        assert_eq!(session.authorized_party, "http://127.0.0.1:8080");
        assert_eq!(session.organization.unwrap().slg.as_deref(), Some("acme"));
        assert_eq!(session.actor.as_deref(), Some("user_admin"));
        assert!(parse(&["alice", "--org", "org_1:admin"]).is_err());
        assert!(parse(&["alice", "--clerk", "--scope", "quotes:read"]).is_err());
    }

    #[test]
    fn the_defaults_of_the_command_line_are_those_of_config_new() {
        let cli = Cli::try_parse_from([
            "quotes-api",
            "--database-url",
            "postgres://postgres@127.0.0.1:5432/quotes",
            "--auth-issuer",
            "https://idp.example.com",
        ])
        .unwrap();
        let parsed = Config::from_args(&cli.serve).unwrap();
        let built = Config::new(
            DatabaseSettings::new(
                DatabaseUrl::parse("postgres://postgres@127.0.0.1:5432/quotes").unwrap(),
            ),
            AuthSettings::new("https://idp.example.com"),
        );
        assert_eq!(format!("{parsed:?}"), format!("{built:?}"));
    }
}
