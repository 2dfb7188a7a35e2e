//! The database's settings: where it is (`DATABASE_URL`, with libpq's TLS
//! modes) and how the pool uses it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// How the pool reaches Postgres.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    /// Most connections the process keeps open, shared out between workers.
    pub pool_size: usize,
    /// How long a request waits for a free connection before it gets 503.
    pub acquire_timeout: Duration,
    /// How long opening a connection may take.
    pub connect_timeout: Duration,
    /// Postgres `statement_timeout` of every statement.
    pub statement_timeout: Duration,
    /// Whether a server connection may carry state between transactions.
    pub pool_mode: PoolMode,
}

/// What the API may leave on a server connection, which depends on what
/// sits between it and Postgres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PoolMode {
    /// Each connection is a Postgres session of its own (direct, or a
    /// session-mode pooler): statements are prepared once per connection
    /// and `statement_timeout` is set once when it opens. One round trip
    /// per query.
    #[default]
    Session,
    /// Server connections change between transactions (PgBouncer's
    /// `pool_mode = transaction`, Neon's and Supabase's pooled endpoints):
    /// nothing outlives a transaction. Every unit of work runs in a
    /// transaction that sets `statement_timeout` locally, and statements are
    /// prepared, used and closed inside it. Three more round trips per
    /// request; the price of sharing a few server connections among many
    /// clients.
    Transaction,
}

impl FromStr for PoolMode {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "session" => Ok(Self::Session),
            "transaction" => Ok(Self::Transaction),
            other => Err(format!(
                "`{other}` is not a pool mode; use `session` (direct or session pooling) \
                 or `transaction` (PgBouncer transaction mode, Neon's or Supabase's pooled URL)"
            )),
        }
    }
}

impl DatabaseSettings {
    /// Default pool size.
    pub const DEFAULT_POOL_SIZE: usize = 8;
    /// Default wait for a free connection.
    pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
    /// Default time allowed to open a connection.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
    /// Default `statement_timeout`.
    pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

    /// The settings for `url`, with the defaults for everything else.
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            pool_size: Self::DEFAULT_POOL_SIZE,
            acquire_timeout: Self::DEFAULT_ACQUIRE_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            statement_timeout: Self::DEFAULT_STATEMENT_TIMEOUT,
            pool_mode: PoolMode::Session,
        }
    }
}

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
    pub(super) config: tokio_postgres::Config,
    pub(super) tls: TlsMode,
    /// Trust anchors from `sslrootcert`; empty means the public web roots.
    pub(super) roots: Vec<CertificateDer<'static>>,
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
