//! Finding Postgres, and making and dropping scratch databases.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::Result;

/// A server where tests may create databases.
pub fn admin_url() -> String {
    std::env::var("QUOTES_TEST_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The database `cargo xtask run` uses when `DATABASE_URL` is not set.
pub fn default_database_url() -> String {
    "postgres://postgres@127.0.0.1:5432/quotes".to_owned()
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// Fails with what to do next when nothing listens at `url`'s host.
pub fn check_reachable(url: &str) -> Result {
    let host_port = url
        .rsplit_once('@')
        .map_or(url, |(_, rest)| rest)
        .trim_start_matches("postgres://")
        .trim_start_matches("postgresql://")
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    let reachable = host_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok());
    if reachable {
        Ok(())
    } else {
        Err(format!(
            "no Postgres answers at {host_port}: start one (`docker compose up -d db` does) \
             or set DATABASE_URL / QUOTES_TEST_ADMIN_URL to one that runs"
        ))
    }
}

/// Runs `sql` on the admin database.
pub fn admin_execute(sql: &str) -> Result {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&admin_url(), tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", admin_url()))?;
        tokio::spawn(connection);
        client
            .batch_execute(sql)
            .await
            .map_err(|e| format!("{sql}: {e}"))
    })
}
