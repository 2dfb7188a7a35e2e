//! Postgres access: the connection URL (with libpq's TLS modes), the pool,
//! per-connection settings and the embedded migrations.
//!
//! Connections are made with tokio-postgres directly so that TLS works the
//! way hosted Postgres (Neon and friends) expects; diesel-async then wraps
//! them. Every new connection gets `application_name` and
//! `statement_timeout`, so a stuck query cannot hold a request for ever.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::ConnectionError;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Hook, HookError, Object, Pool, PoolError};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_postgres::config::SslMode;

use crate::config::DatabaseConfig;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

/// Shown to Postgres operators in `pg_stat_activity`.
const APPLICATION_NAME: &str = "quotes-api";

/// How (and whether) the connection is encrypted, as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, without certificate checks (libpq's default).
    Prefer,
    /// TLS always, without certificate checks.
    Require,
    /// TLS always; the certificate must chain to a trusted root.
    VerifyCa,
    /// TLS always; the certificate must chain to a trusted root and name the host.
    VerifyFull,
}

/// A parsed `DATABASE_URL`. Its `Debug` never shows the password.
#[derive(Clone)]
pub struct DatabaseUrl {
    config: tokio_postgres::Config,
    tls: TlsMode,
    /// Trust anchors from `sslrootcert`; empty means the public web roots.
    roots: Vec<CertificateDer<'static>>,
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseUrl")
            .field("hosts", &self.config.get_hosts())
            .field("ports", &self.config.get_ports())
            .field("dbname", &self.config.get_dbname())
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl DatabaseUrl {
    /// Parses a `postgres://` URL. Errors never include the URL itself, which
    /// may carry a password.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut url = url::Url::parse(raw.trim()).map_err(|e| format!("not a valid URL ({e})"))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err("must start with postgres:// or postgresql://".to_owned());
        }
        let mut sslmode = None;
        let mut sslrootcert = None;
        let mut kept = Vec::new();
        for (key, value) in url.query_pairs() {
            match &*key {
                "sslmode" => sslmode = Some(value.into_owned()),
                "sslrootcert" => sslrootcert = Some(value.into_owned()),
                "sslcert" | "sslkey" | "sslpassword" => {
                    return Err(format!("`{key}`: client certificates are not supported"));
                }
                _ => kept.push((key.into_owned(), value.into_owned())),
            }
        }
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
        let config = tokio_postgres::Config::from_str(url.as_str())
            .map_err(|e| format!("not a valid Postgres URL ({e})"))?;

        let roots = match &sslrootcert {
            Some(path) => CertificateDer::pem_file_iter(path)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(|e| format!("sslrootcert `{path}` cannot be read ({e})"))?,
            None => Vec::new(),
        };
        let tls = match sslmode.as_deref() {
            Some("disable") => TlsMode::Disable,
            // As libpq: a root certificate turns `require` into `verify-ca`.
            Some("require") if sslrootcert.is_some() => TlsMode::VerifyCa,
            Some("require") => TlsMode::Require,
            Some("verify-ca") => TlsMode::VerifyCa,
            Some("verify-full") => TlsMode::VerifyFull,
            None | Some("prefer" | "allow") => TlsMode::Prefer,
            Some(other) => {
                return Err(format!(
                    "sslmode `{other}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                ));
            }
        };
        Ok(Self { config, tls, roots })
    }

    /// The TLS mode in force.
    pub fn tls_mode(&self) -> TlsMode {
        self.tls
    }
}

/// Opens one connection with the configured TLS mode and session settings.
pub async fn connect(settings: &DatabaseConfig) -> Result<AsyncPgConnection, ConnectionError> {
    let url = &settings.url;
    let mut config = url.config.clone();
    config
        .application_name(APPLICATION_NAME)
        .connect_timeout(settings.connect_timeout);
    let mut conn = match url.tls {
        TlsMode::Disable => {
            config.ssl_mode(SslMode::Disable);
            let (client, connection) = config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
            AsyncPgConnection::try_from_client_and_connection(client, connection).await?
        }
        mode => {
            config.ssl_mode(if mode == TlsMode::Prefer {
                SslMode::Prefer
            } else {
                SslMode::Require
            });
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(url)?);
            let (client, connection) = config
                .connect(tls)
                .await
                .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
            AsyncPgConnection::try_from_client_and_connection(client, connection).await?
        }
    };
    // A session setting rather than a startup option, because connection
    // poolers such as PgBouncer refuse unknown startup options.
    let timeout_ms = settings.statement_timeout.as_millis();
    diesel::sql_query(format!("SET statement_timeout = {timeout_ms}"))
        .execute(&mut conn)
        .await
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

fn tls_config(url: &DatabaseUrl) -> Result<rustls::ClientConfig, ConnectionError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
    let config = match url.tls {
        TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
        TlsMode::VerifyCa | TlsMode::VerifyFull => {
            let mut roots = rustls::RootCertStore::empty();
            if url.roots.is_empty() {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            } else {
                let (_, ignored) = roots.add_parsable_certificates(url.roots.iter().cloned());
                if roots.is_empty() {
                    return Err(ConnectionError::BadConnection(format!(
                        "sslrootcert holds no usable certificate ({ignored} ignored)"
                    )));
                }
            }
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
            if url.tls == TlsMode::VerifyFull {
                builder.with_webpki_verifier(webpki).with_no_client_auth()
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
                    .with_no_client_auth()
            }
        }
    };
    Ok(config)
}

/// `sslmode=require`: encrypted, but (as in libpq) the certificate is not checked.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain must reach a trusted root; the name may differ.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                NotValidForName | NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Why a connection could not be had.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseUnavailable {
    #[error("the schema is not migrated yet")]
    NotMigrated,
    #[error("no database connection: {0}")]
    Pool(#[from] PoolError),
}

/// A share of the connection pool and what is known about the schema.
///
/// The connections are split into one pool per HTTP worker thread
/// ([`Database::split`]): a connection's I/O is driven by the thread that
/// opened it, so a request served by the thread that also owns its
/// connection needs no hand-off between threads, which on a busy machine
/// costs more than the query itself.
#[derive(Clone)]
pub struct Database {
    pool: Pool<AsyncPgConnection>,
    shared: Arc<Shared>,
}

/// What every share knows.
struct Shared {
    settings: DatabaseConfig,
    migrated: AtomicBool,
    /// Every share's pool, for the process-wide occupancy.
    pools: Vec<Pool<AsyncPgConnection>>,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("status", &self.pool.status())
            .field("migrated", &self.is_migrated())
            .finish_non_exhaustive()
    }
}

/// A pooled connection.
pub type Connection = Object<AsyncPgConnection>;

impl Database {
    /// `settings.pool_size` connections split as evenly as they go into
    /// `parts` pools (at least one connection each, so never more parts than
    /// connections). No connection is opened until one is needed, so a
    /// database that is down at start does not stop the process.
    pub fn split(
        settings: DatabaseConfig,
        parts: usize,
    ) -> Result<Vec<Self>, deadpool::managed::BuildError> {
        let parts = parts.clamp(1, settings.pool_size.max(1));
        let pools = (0..parts)
            .map(|part| {
                let size =
                    settings.pool_size / parts + usize::from(part < settings.pool_size % parts);
                build_pool(&settings, size)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let shared = Arc::new(Shared {
            settings,
            migrated: AtomicBool::new(false),
            pools: pools.clone(),
        });
        Ok(pools
            .into_iter()
            .map(|pool| Self {
                pool,
                shared: shared.clone(),
            })
            .collect())
    }

    /// A connection for one request; fails fast while the database is away.
    pub async fn conn(&self) -> Result<Connection, DatabaseUnavailable> {
        if !self.is_migrated() {
            return Err(DatabaseUnavailable::NotMigrated);
        }
        Ok(self.pool.get().await?)
    }

    /// Whether the database answers a trivial query right now.
    pub async fn ping(&self) -> bool {
        let check = async {
            let mut conn = self.pool.get().await.ok()?;
            diesel::sql_query("SELECT 1").execute(&mut conn).await.ok()
        };
        matches!(
            tokio::time::timeout(self.shared.settings.acquire_timeout, check).await,
            Ok(Some(_))
        )
    }

    /// Whether the embedded migrations have been applied by this process.
    pub fn is_migrated(&self) -> bool {
        AtomicBool::load(&self.shared.migrated, Ordering::Acquire)
    }

    /// Occupancy of all the shares together, for logs and metrics.
    pub fn status(&self) -> deadpool::Status {
        let mut total = deadpool::Status {
            max_size: 0,
            size: 0,
            available: 0,
            waiting: 0,
        };
        for status in self.shared.pools.iter().map(Pool::status) {
            total.max_size += status.max_size;
            total.size += status.size;
            total.available += status.available;
            total.waiting += status.waiting;
        }
        total
    }

    /// Applies pending migrations, retrying with back-off until it works.
    /// The first attempt is awaited; later ones run in the background.
    pub async fn migrate_in_background(&self) {
        if self.try_migrate().await {
            return;
        }
        let db = self.clone();
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(250);
            loop {
                tokio::time::sleep(delay).await;
                if db.try_migrate().await {
                    break;
                }
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        });
    }

    async fn try_migrate(&self) -> bool {
        match migrate(&self.shared.settings).await {
            Ok(applied) => {
                tracing::info!(applied, "database schema is up to date");
                AtomicBool::store(&self.shared.migrated, true, Ordering::Release);
                true
            }
            Err(error) => {
                tracing::warn!(%error, "cannot migrate the database yet; will retry");
                false
            }
        }
    }
}

/// One pool of `size` connections, each opened by [`connect`].
fn build_pool(
    settings: &DatabaseConfig,
    size: usize,
) -> Result<Pool<AsyncPgConnection>, deadpool::managed::BuildError> {
    let setup_settings = Arc::new(settings.clone());
    let mut manager_config = ManagerConfig::default();
    manager_config.custom_setup = Box::new(move |_url: &str| -> BoxFuture<'_, _> {
        let settings = setup_settings.clone();
        async move { connect(&settings).await }.boxed()
    });
    // A connection whose socket closed (a database restart, a pooler
    // hanging up) is dropped on return without a round trip; the ping
    // below covers the ones that went quiet without a word.
    manager_config.recycling_method = RecyclingMethod::Fast;
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config("", manager_config);
    Pool::builder(manager)
        .pre_recycle(Hook::async_fn(|conn, metrics| {
            Box::pin(ping_if_idle(conn, metrics.last_used()))
        }))
        .max_size(size)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(settings.acquire_timeout))
        .create_timeout(Some(settings.connect_timeout))
        .recycle_timeout(Some(settings.connect_timeout))
        .build()
}

/// A connection left idle this long is pinged before it is handed out:
/// NAT tables, load balancers and serverless Postgres (Neon suspends idle
/// computes) drop quiet connections, sometimes without closing them. A busy
/// connection skips the round trip, which would otherwise double the
/// database work of every request.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);

async fn ping_if_idle(conn: &mut AsyncPgConnection, idle: Duration) -> Result<(), HookError> {
    if idle < IDLE_BEFORE_PING {
        return Ok(());
    }
    diesel::sql_query("SELECT 1")
        .execute(conn)
        .await
        .map(drop)
        .map_err(|error| {
            HookError::Message(format!("an idle connection failed a ping: {error}").into())
        })
}

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] ConnectionError),
    #[error("a migration failed: {0}")]
    Run(String),
}

/// Creates the database named in the URL unless it exists; `true` when it
/// was created. Connects to the server's `postgres` database to do so.
pub async fn create_database_if_missing(settings: &DatabaseConfig) -> Result<bool, MigrationError> {
    #[derive(diesel::QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let name = settings
        .url
        .config
        .get_dbname()
        .or(settings.url.config.get_user())
        .ok_or_else(|| MigrationError::Run("DATABASE_URL names no database".to_owned()))?
        .to_owned();
    let mut maintenance = settings.clone();
    maintenance.url.config.dbname("postgres");
    let mut conn = tokio::time::timeout(settings.connect_timeout, connect(&maintenance))
        .await
        .map_err(|_| ConnectionError::BadConnection("timed out".to_owned()))??;
    let exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<diesel::sql_types::Text, _>(&name)
            .get_result::<Exists>(&mut conn)
            .await
            .map_err(|e| MigrationError::Run(e.to_string()))?
            .exists;
    if exists {
        return Ok(false);
    }
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    diesel::sql_query(format!("CREATE DATABASE {quoted}"))
        .execute(&mut conn)
        .await
        .map_err(|e| MigrationError::Run(e.to_string()))?;
    Ok(true)
}

/// Applies every pending embedded migration; returns how many ran.
pub async fn migrate(settings: &DatabaseConfig) -> Result<usize, MigrationError> {
    let conn = tokio::time::timeout(settings.connect_timeout, connect(settings))
        .await
        .map_err(|_| ConnectionError::BadConnection("timed out".to_owned()))??;
    // diesel's migration harness is synchronous; it gets a blocking thread of
    // its own so that it can drive the async connection from there.
    tokio::task::spawn_blocking(move || {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
        conn.run_pending_migrations(MIGRATIONS)
            .map(|applied| applied.len())
            .map_err(|e| MigrationError::Run(e.to_string()))
    })
    .await
    .map_err(|e| MigrationError::Run(e.to_string()))?
}
