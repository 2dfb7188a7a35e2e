//! The command line of `quotes-api`, as clap reads it: raw values only.
//! Values that may carry secrets (`DATABASE_URL`,
//! `CLERK_WEBHOOK_SIGNING_SECRET`) are read as plain strings so that clap
//! never echoes them in an error.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    ///
    /// By default an access token as the provider's token endpoint issues
    /// them (RFC 9068, header `typ: at+jwt`, signed with the provider's
    /// key): claims `iss` (`http://BIND_ADDR/dev-idp`), `sub` (USER),
    /// `client_id` (--client), `scope` (--scope), `jti`, `iat`, `nbf` and
    /// `exp` (an hour later). `dev-token alice` may read and change alice's
    /// quote.
    ///
    /// With --clerk, a token shaped as a Clerk session token (version 2)
    /// instead, for tests of that shape: header `cat: cl_B7d4PD111AAA`,
    /// `typ: JWT`; claims `iss`, `sub`, `iat`, `nbf`, `exp`, `v: 2`, `sid`,
    /// `azp` (--azp), and `o` (--org) and `act` (--actor) when asked for.
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

    /// The API scopes the access token grants, space-separated: quotes:read
    /// (GET /me/quote), quotes:write (PUT and DELETE; it does not include
    /// reading); "" for none.
    #[arg(
        long,
        default_value = "quotes:read quotes:write",
        conflicts_with = "clerk"
    )]
    pub scope: String,

    /// The access token's `client_id`: the client it was issued to.
    #[arg(long, default_value = "dev-token", conflicts_with = "clerk")]
    pub client: String,

    /// Print a Clerk-style session token (version 2) instead of an access token.
    #[arg(long)]
    pub clerk: bool,

    /// With --clerk: the session's active organization, `o` (its slug is optional).
    #[arg(long, requires = "clerk", value_name = "ID:ROLE[:SLUG]")]
    pub org: Option<String>,

    /// With --clerk: who impersonates USER, `act.sub`.
    #[arg(long, requires = "clerk", value_name = "SUB")]
    pub actor: Option<String>,

    /// With --clerk: `azp`, the origin of the app (default: `http://BIND_ADDR`,
    /// where `cargo xtask run` serves it).
    #[arg(long, requires = "clerk", value_name = "ORIGIN")]
    pub azp: Option<String>,
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

    /// Seconds the server keeps serving after SIGTERM/SIGINT, with
    /// `/readyz` answering 503, before it stops accepting connections (so
    /// that a load balancer stops sending requests first).
    #[arg(long, env = "SHUTDOWN_DRAIN_SECS", default_value = "0")]
    pub shutdown_drain_secs: String,

    /// Seconds a whole request (reading the body included) may take before
    /// it is answered 408.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value = "15")]
    pub request_timeout_secs: String,

    /// Seconds a client has to send each request's headers, from their
    /// first byte, before it is answered 408 and the connection closed.
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_SECS", default_value = "5")]
    pub http_header_timeout_secs: String,

    /// Seconds an idle keep-alive connection stays open.
    #[arg(long, env = "HTTP_KEEP_ALIVE_SECS", default_value = "30")]
    pub http_keep_alive_secs: String,

    /// Most open connections in all (default: as many as the open-file
    /// limit allows, up to 10000 per worker).
    #[arg(long, env = "HTTP_MAX_CONNECTIONS")]
    pub http_max_connections: Option<String>,

    /// Most open connections from one client address (an IPv6 one by its
    /// /64; trusted proxies are not limited), or `off`.
    #[arg(long, env = "HTTP_MAX_CONNECTIONS_PER_ADDRESS", default_value = "256")]
    pub http_max_connections_per_address: String,

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

    /// Seconds the development provider's access and ID tokens live (1 to
    /// 86400); short values exercise a client's renewal.
    #[arg(long, env = "DEV_IDP_TOKEN_TTL_SECS", default_value = "3600")]
    pub dev_idp_token_ttl_secs: String,

    /// Clients with a secret at the development provider, which may use the
    /// client-credentials grant, introspection and revocation:
    /// comma-separated `id:secret:scopes`, the scopes space-separated and
    /// possibly empty (`reporter:s3cret:quotes:read`).
    #[arg(long, env = "DEV_IDP_CLIENTS", hide_env_values = true)]
    pub dev_idp_clients: Option<String>,

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
    /// proxies in front of this server (the web app's `api_base`, and the
    /// client address the rate limit counts).
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,

    /// Requests a minute each caller (a verified user on `/me/*`, a client
    /// address elsewhere) may make after its burst; `off` for no limit.
    #[arg(long, env = "RATE_LIMIT_PER_MINUTE", default_value = "600")]
    pub rate_limit_per_minute: String,

    /// Requests each caller may make at once before the rate applies.
    #[arg(long, env = "RATE_LIMIT_BURST", default_value = "100")]
    pub rate_limit_burst: String,

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

    /// Postgres `statement_timeout` for every statement, in milliseconds.
    #[arg(long, env = "DATABASE_STATEMENT_TIMEOUT_MS", default_value = "5000")]
    pub database_statement_timeout_ms: String,

    /// `session` (direct, or a session-mode pooler) or `transaction` (a
    /// transaction-mode pooler: PgBouncer, Neon's or Supabase's pooled URL):
    /// then no state is kept on a server connection between transactions.
    #[arg(long, env = "DATABASE_POOL_MODE", default_value = "session")]
    pub database_pool_mode: String,
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

    /// This API's canonical URL (RFC 9728's `resource`): named by the
    /// protected-resource metadata, and the audience an access token that
    /// binds one must carry.
    #[arg(long, env = "AUTH_RESOURCE")]
    pub auth_resource: Option<String>,

    /// Comma-separated token kinds accepted: `session_token`,
    /// `oauth_token`, `api_key`, `m2m_token` (default: `session_token`
    /// with Clerk, `oauth_token,m2m_token` with another provider).
    #[arg(long, env = "AUTH_ACCEPTED_TOKENS")]
    pub auth_accepted_tokens: Option<String>,

    /// Comma-separated client ids; when set, OAuth and machine tokens must
    /// have been issued to one of them (`client_id`, or `azp`).
    #[arg(long, env = "AUTH_CLIENT_IDS")]
    pub auth_client_ids: Option<String>,

    /// A provider's names for this API's scopes, as comma-separated
    /// `theirs=ours` pairs, e.g. `api://quotes/Quotes.Read=quotes:read`.
    #[arg(long, env = "AUTH_SCOPE_MAP")]
    pub auth_scope_map: Option<String>,

    /// `true`: a token naming none of this API's scopes gets all of them,
    /// as before scopes existed (a migration; warned about at start).
    #[arg(long, env = "AUTH_UNSCOPED_TOKENS_GRANT_ALL", default_value = "false")]
    pub auth_unscoped_tokens_grant_all: String,

    /// Clerk's secret key (`sk_…`), to check opaque OAuth tokens (`oat_…`)
    /// and API keys (`ak_…`) with Clerk's Backend API.
    #[arg(long, env = "CLERK_SECRET_KEY", hide_env_values = true)]
    pub clerk_secret_key: Option<String>,

    /// Clerk's Backend API.
    #[arg(long, env = "CLERK_API_URL", default_value = "https://api.clerk.com")]
    pub clerk_api_url: String,

    /// An RFC 7662 introspection endpoint, to check the provider's opaque
    /// access tokens.
    #[arg(long, env = "AUTH_INTROSPECTION_URL")]
    pub auth_introspection_url: Option<String>,

    /// This API's client id at the introspection endpoint.
    #[arg(long, env = "AUTH_INTROSPECTION_CLIENT_ID")]
    pub auth_introspection_client_id: Option<String>,

    /// This API's client secret at the introspection endpoint.
    #[arg(long, env = "AUTH_INTROSPECTION_CLIENT_SECRET", hide_env_values = true)]
    pub auth_introspection_client_secret: Option<String>,

    /// The OAuth client id Swagger UI's Authorize signs in with
    /// (authorization code + PKCE, a public client registered with the
    /// provider, redirect URI `<api>/docs/oauth2-redirect.html`).
    #[arg(long, env = "DOCS_CLIENT_ID")]
    pub docs_client_id: Option<String>,
}
