//! Postgres for tests: the server at `QUOTES_TEST_ADMIN_URL` (the one
//! setting for where it is), and a database of its own for each test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the test Postgres is; tests only create and drop their own
/// databases there. `QUOTES_TEST_ADMIN_URL`, or the local default.
pub fn admin_url() -> String {
    std::env::var("QUOTES_TEST_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The test Postgres' `host:port`.
pub fn admin_address() -> String {
    let admin = url::Url::parse(&admin_url()).expect("QUOTES_TEST_ADMIN_URL is a URL");
    format!(
        "{}:{}",
        admin.host_str().unwrap_or("127.0.0.1"),
        admin.port().unwrap_or(5432)
    )
}

/// The test Postgres' port.
pub fn admin_port() -> u16 {
    url::Url::parse(&admin_url())
        .expect("QUOTES_TEST_ADMIN_URL is a URL")
        .port()
        .unwrap_or(5432)
}

/// A name no other test (or test process) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .subsec_nanos();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A database of its own for one test, dropped when the test ends.
#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let name = unique("quotes_test");
        admin_execute(&format!("CREATE DATABASE {name}")).await;
        Self { name }
    }

    /// URL of this database at `host:port` with extra query parameters.
    pub fn url_at(&self, host_port: &str, query: &str) -> String {
        let admin = url::Url::parse(&admin_url()).unwrap();
        let user = admin.username();
        let sep = if query.is_empty() { "" } else { "?" };
        format!("postgres://{user}@{host_port}/{}{sep}{query}", self.name)
    }

    pub fn url(&self) -> String {
        self.url_at(&admin_address(), "sslmode=disable")
    }

    /// A direct client for assertions on what is stored.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .expect("connect to the test database");
        tokio::spawn(connection);
        client
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async; a thread of its own keeps it independent
        // of the (possibly ending) test runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(admin_execute(&format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )));
        })
        .join();
    }
}

pub async fn admin_execute(sql: &str) {
    let (client, connection) = tokio_postgres::connect(&admin_url(), tokio_postgres::NoTls)
        .await
        .expect("Postgres must run at QUOTES_TEST_ADMIN_URL or 127.0.0.1:5432");
    tokio::spawn(connection);
    client.batch_execute(sql).await.expect(sql);
}

pub async fn admin_query_one(sql: &str) -> String {
    let (client, connection) = tokio_postgres::connect(&admin_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client.query_one(sql, &[]).await.unwrap().get(0)
}
