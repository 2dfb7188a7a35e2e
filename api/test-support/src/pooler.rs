//! Debian's PgBouncer in transaction mode in front of the test Postgres:
//! the pooler Neon's and Supabase's pooled endpoints are built on, where a
//! client's consecutive transactions may run on different server
//! connections.
//!
//! `pgbouncer` is found at `PGBOUNCER` or `/usr/sbin/pgbouncer`;
//! `cargo xtask test` installs it (`apt-get install pgbouncer`).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::config::TempPath;
use crate::database::{TestDatabase, admin_address, admin_url};
use crate::process::{KillOnDrop, Service, free_port};
use crate::proxy::DatabaseUrlFor;

/// Set (to anything) to run the API's tests with their database behind a
/// [`PgBouncer`] in transaction mode and the API in `PoolMode::Transaction`.
pub const THROUGH_PGBOUNCER: &str = "QUOTES_TEST_THROUGH_PGBOUNCER";

/// Whether this test run puts PgBouncer in front of every test database.
pub fn through_pgbouncer() -> bool {
    std::env::var_os(THROUGH_PGBOUNCER).is_some()
}

/// A PgBouncer process on a port of its own, stopped on drop.
#[derive(Debug)]
pub struct PgBouncer {
    port: u16,
    _process: KillOnDrop,
    _config: TempPath,
    _users: TempPath,
}

impl PgBouncer {
    /// Starts PgBouncer in transaction mode with at most `server_connections`
    /// to each database, however many clients connect: fewer server
    /// connections than clients make the sharing certain.
    pub fn start(server_connections: usize) -> Self {
        let admin = url::Url::parse(&admin_url()).unwrap();
        let (host, port) = admin_address()
            .rsplit_once(':')
            .map(|(host, port)| (host.to_owned(), port.to_owned()))
            .unwrap();
        let users = TempPath::new("pgbouncer-users.txt");
        std::fs::write(&users.0, format!("\"{}\" \"\"\n", admin.username())).unwrap();
        // Should another process take the port first, PgBouncer cannot
        // listen and exits: it starts again on another.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let listen_port = free_port();
            let config = TempPath::new("pgbouncer.ini");
            std::fs::write(
                &config.0,
                format!(
                    "[databases]\n\
                     * = host={host} port={port}\n\
                     [pgbouncer]\n\
                     listen_addr = 127.0.0.1\n\
                     listen_port = {listen_port}\n\
                     unix_socket_dir =\n\
                     auth_type = trust\n\
                     auth_file = {users}\n\
                     pool_mode = transaction\n\
                     default_pool_size = {server_connections}\n\
                     max_client_conn = 1000\n\
                     server_reset_query =\n\
                     ignore_startup_parameters = extra_float_digits\n",
                    users = users.0.display(),
                ),
            )
            .unwrap();
            let mut args = vec![config.0.clone().into_os_string()];
            // PgBouncer refuses to run as root; it drops to another user itself.
            if is_root() {
                args.extend(["--user".into(), "postgres".into()]);
            }
            let mut process =
                Service::new("PGBOUNCER", "/usr/sbin/pgbouncer", "pgbouncer").spawn(args);
            loop {
                if process.0.try_wait().unwrap().is_some() {
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", listen_port)).is_ok() {
                    return Self {
                        port: listen_port,
                        _process: process,
                        _config: config,
                        _users: users,
                    };
                }
                assert!(Instant::now() < deadline, "PgBouncer never listened");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// The URL of `db` through this PgBouncer.
    pub fn url_for(&self, db: &TestDatabase) -> String {
        db.url_at(&format!("127.0.0.1:{}", self.port), "sslmode=disable")
    }

    /// [`PgBouncer::url_for`] as a test's setup asks for it.
    pub fn database_url(&self) -> DatabaseUrlFor {
        let address = format!("127.0.0.1:{}", self.port);
        Box::new(move |db| db.url_at(&address, "sslmode=disable"))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}
