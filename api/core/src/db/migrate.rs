//! The embedded migrations, and creating the database when asked.

use diesel::connection::SimpleConnection;
use diesel::{Connection, ConnectionError};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::connect::{connect, local_timeout};
use super::settings::DatabaseSettings;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// The advisory lock migrations hold: any number unlikely to be another
/// application's (the ASCII of `quotes`).
const MIGRATION_LOCK: i64 = 0x71_75_6f_74_65_73;

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
pub async fn create_database_if_missing(
    settings: &DatabaseSettings,
) -> Result<bool, MigrationError> {
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
pub async fn migrate(settings: &DatabaseSettings) -> Result<usize, MigrationError> {
    let conn = tokio::time::timeout(settings.connect_timeout, connect(settings))
        .await
        .map_err(|_| ConnectionError::BadConnection("timed out".to_owned()))??;
    // diesel's migration harness is synchronous; it gets a blocking thread of
    // its own so that it can drive the async connection from there.
    let set_timeout = local_timeout(settings);
    tokio::task::spawn_blocking(move || {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
        // All pending migrations in one transaction (each in a savepoint of
        // its own): a release's schema lands whole or not at all, and the
        // transaction-scoped lock makes replicas that start together take
        // turns. Nothing outlives the transaction, so this works through a
        // transaction-mode pooler too.
        conn.transaction(|conn| {
            conn.batch_execute(&format!(
                "{set_timeout}; SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"
            ))?;
            conn.run_pending_migrations(MIGRATIONS)
                .map(|applied| applied.len())
        })
        .map_err(|e: Box<dyn std::error::Error + Send + Sync>| MigrationError::Run(e.to_string()))
    })
    .await
    .map_err(|e| MigrationError::Run(e.to_string()))?
}
