//! Postgres: the settings, one connection, the pool, the batches that
//! concurrent requests share, and the migrations.
//! It knows nothing of HTTP or of the rest of the API but the metrics it
//! records.
//!
//! Every connection gets `application_name`, and every statement a
//! `statement_timeout` (per connection, or per transaction behind a
//! transaction-mode pooler), so a stuck query cannot hold a request for ever.

mod batch;
mod connect;
mod migrate;
mod pool;
mod settings;

pub use self::batch::{Batch, Batcher};
pub use self::connect::connect;
pub use self::migrate::{MigrationError, create_database_if_missing, migrate};
pub use self::pool::{Database, DatabaseError, DatabaseUnavailable};
pub use self::settings::{DatabaseSettings, DatabaseUrl, PoolMode, TlsMode};
