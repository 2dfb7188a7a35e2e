//! The connection pool, split into one share per HTTP worker, and what is
//! known about the schema.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::QueryResult;
use diesel_async::pooled_connection::deadpool::{Hook, HookError, Object, Pool, PoolError};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{
    AnsiTransactionManager, AsyncPgConnection, SimpleAsyncConnection, TransactionManager,
};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::connect::{connect, local_timeout};
use super::migrate::migrate;
use super::settings::{DatabaseSettings, PoolMode};

/// Why a connection could not be had.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseUnavailable {
    #[error("the schema is not migrated yet")]
    NotMigrated,
    #[error("no database connection: {0}")]
    Pool(#[from] PoolError),
    #[error("no database connection within {0:?}")]
    Waited(Duration),
    #[error("too many queries waiting for the database")]
    Crowded,
    #[error("the query's batch ended without an answer")]
    Lost,
}

/// Why a unit of work failed: no connection, or the database said no.
///
/// Cheap to clone, so that every request of a batch gets the batch's error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DatabaseError {
    #[error(transparent)]
    Unavailable(Arc<DatabaseUnavailable>),
    #[error("database error: {0}")]
    Query(Arc<diesel::result::Error>),
}

impl From<DatabaseUnavailable> for DatabaseError {
    fn from(error: DatabaseUnavailable) -> Self {
        Self::Unavailable(Arc::new(error))
    }
}

impl From<diesel::result::Error> for DatabaseError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Query(Arc::new(error))
    }
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
    settings: DatabaseSettings,
    /// What opens a unit of work in transaction mode: `BEGIN` and the
    /// timeout in one simple-protocol message, so one round trip.
    begin: String,
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
type Connection = Object<AsyncPgConnection>;

impl Database {
    /// `settings.pool_size` connections split as evenly as they go into
    /// `parts` pools (at least one connection each, so never more parts than
    /// connections). No connection is opened until one is needed, so a
    /// database that is down at start does not stop the process.
    pub fn split(
        settings: DatabaseSettings,
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
            begin: format!("BEGIN; {}", local_timeout(&settings)),
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

    /// A connection for one unit of work ([`Database::run`]); fails fast
    /// while the schema is not migrated.
    async fn conn(&self) -> Result<Connection, DatabaseUnavailable> {
        if !self.is_migrated() {
            return Err(DatabaseUnavailable::NotMigrated);
        }
        Ok(self.pool.get().await?)
    }

    /// Runs `work` on a pooled connection: as it is in session mode; in
    /// transaction mode inside a transaction of its own that carries the
    /// statement timeout, committed when `work` succeeds and rolled back
    /// when it fails. Handlers put each request's queries in one `run`.
    pub async fn run<T>(
        &self,
        work: impl AsyncFnOnce(&mut AsyncPgConnection) -> QueryResult<T>,
    ) -> Result<T, DatabaseError> {
        let mut conn = self.conn().await?;
        match self.shared.settings.pool_mode {
            PoolMode::Session => Ok(work(&mut conn).await?),
            PoolMode::Transaction => {
                AnsiTransactionManager::begin_transaction_sql(&mut *conn, &self.shared.begin)
                    .await?;
                match work(&mut conn).await {
                    Ok(value) => {
                        AnsiTransactionManager::commit_transaction(&mut *conn).await?;
                        Ok(value)
                    }
                    Err(error) => {
                        // A connection whose rollback failed is marked
                        // broken and never handed out again.
                        let _ = AnsiTransactionManager::rollback_transaction(&mut *conn).await;
                        Err(error.into())
                    }
                }
            }
        }
    }

    /// How long a request may wait for the database before it gets 503.
    pub fn acquire_timeout(&self) -> Duration {
        self.shared.settings.acquire_timeout
    }

    /// Whether the database answers a trivial query right now.
    pub async fn ping(&self) -> bool {
        let check = async {
            let mut conn = self.pool.get().await.ok()?;
            conn.batch_execute("SELECT 1").await.ok()
        };
        matches!(
            tokio::time::timeout(self.shared.settings.acquire_timeout, check).await,
            Ok(Some(()))
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
    settings: &DatabaseSettings,
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
    // The simple protocol: no statement is prepared, which a transaction
    // pooler could not keep.
    conn.batch_execute("SELECT 1").await.map_err(|error| {
        HookError::Message(format!("an idle connection failed a ping: {error}").into())
    })
}
