//! Finding Postgres (the one named, the local server, or a private
//! cluster of the project's own), and making and dropping scratch
//! databases.

use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::server::ApiServer;
use crate::walkthrough::http_request;
use crate::{Result, Tally, run_checked};

/// Where a task finds Postgres when nothing says otherwise.
pub const LOCAL_SERVER: &str = "127.0.0.1:5432";

/// A server where tests may create databases.
pub fn admin_url() -> String {
    std::env::var("QUOTES_TEST_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
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

/// `url`'s `host:port`, with Postgres' default port when it names none.
fn host_port(url: &str) -> String {
    let host_port = url
        .rsplit_once('@')
        .map_or(url, |(_, rest)| rest)
        .trim_start_matches("postgres://")
        .trim_start_matches("postgresql://")
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    }
}

/// Whether a server answers at `url`'s host and port.
pub fn is_reachable(url: &str) -> bool {
    host_port(url)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok())
}

/// Fails with what to do next when nothing listens at `url`'s host.
pub fn check_reachable(url: &str) -> Result {
    if is_reachable(url) {
        Ok(())
    } else {
        Err(format!(
            "no Postgres answers at {}: start one (`docker compose up -d db` does) \
             or set DATABASE_URL / QUOTES_TEST_ADMIN_URL to one that runs",
            host_port(url)
        ))
    }
}

/// The Postgres a task uses: `named` (a setting, which always wins), else
/// the server answering at `probe`, else a private cluster started in
/// `dir` (kept between runs, stopped when this is dropped). The URL is the
/// server's `postgres` database, for user `postgres`.
#[derive(Debug)]
pub struct Server {
    pub admin_url: String,
    cluster: Option<Cluster>,
}

impl Server {
    pub fn find(named: Option<String>, probe: &str, dir: &Path) -> Result<Self> {
        if let Some(admin_url) = named {
            return Ok(Self {
                admin_url,
                cluster: None,
            });
        }
        let local = format!("postgres://postgres@{probe}/postgres");
        if is_reachable(&local) {
            return Ok(Self {
                admin_url: local,
                cluster: None,
            });
        }
        println!(
            "no Postgres answers at {probe}: starting a private cluster in {}",
            dir.display()
        );
        let cluster = Cluster::start(dir)?;
        Ok(Self {
            admin_url: format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port),
            cluster: Some(cluster),
        })
    }

    /// Whether this is a private cluster of the project's own.
    pub fn is_private(&self) -> bool {
        self.cluster.is_some()
    }
}

/// A PostgreSQL cluster made with the machine's own programs (`initdb`,
/// `pg_ctl`) in a folder of the project's, listening on loopback only, on
/// a free port; its data stays in the folder between runs.
#[derive(Debug)]
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// Postgres refuses to run as root: then it runs as `postgres`.
    as_postgres: bool,
}

impl Cluster {
    fn start(dir: &Path) -> Result<Self> {
        let bin = postgres_programs()?;
        let as_postgres = crate::is_root();
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if as_postgres {
            run_checked(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(dir),
                "chown (the cluster's folder, for user postgres)",
            )?;
        }
        let data = dir.join("data");
        // The same port as last time when it is free, so that the URL
        // `run` prints stays the same from run to run.
        let port_file = dir.join("port");
        let port = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|port| port.trim().parse::<u16>().ok())
            .filter(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
            .map_or_else(free_port, Ok)?;
        std::fs::write(&port_file, port.to_string())
            .map_err(|e| format!("{}: {e}", port_file.display()))?;
        let cluster = Self {
            bin,
            data,
            port,
            as_postgres,
        };
        if !cluster.data.join("PG_VERSION").exists() {
            println!("creating the cluster (once; a few seconds)");
            run_checked(
                cluster
                    .program("initdb")
                    .arg("-D")
                    .arg(&cluster.data)
                    .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
                    .stdout(std::process::Stdio::null()),
                "initdb",
            )?;
        }
        // A cluster left running by a run that was killed: stopped first,
        // so that this one starts with the settings below.
        cluster.stop();
        // Loopback only, no Unix socket (its path could be too long for
        // one): nothing beyond this machine can reach it.
        // TLS as a packaged server has it, so that the tests of `sslmode`
        // run against this cluster too.
        let tls = match cluster.certificate(dir) {
            Ok((cert, key)) => format!(
                " -c ssl=on -c ssl_cert_file='{}' -c ssl_key_file='{}'",
                cert.display(),
                key.display()
            ),
            Err(e) => {
                println!("warning: the cluster runs without TLS: {e}");
                String::new()
            }
        };
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''{tls}",
            cluster.port
        );
        run_checked(
            cluster
                .program("pg_ctl")
                .arg("-D")
                .arg(&cluster.data)
                .arg("-l")
                .arg(dir.join("postgres.log"))
                .args(["-s", "-w", "-t", "60", "-o", &options, "start"]),
            "pg_ctl start",
        )?;
        println!(
            "Postgres runs at 127.0.0.1:{} (log: {})",
            cluster.port,
            dir.join("postgres.log").display()
        );
        Ok(cluster)
    }

    /// The cluster's certificate and key, made once: self-signed for
    /// `localhost`, as Debian's packaged server has it, the key readable by
    /// the server's user only.
    fn certificate(&self, dir: &Path) -> Result<(PathBuf, PathBuf)> {
        let cert = dir.join("server.crt");
        let key = dir.join("server.key");
        if cert.exists() && key.exists() {
            return Ok((cert, key));
        }
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
            ])
            .args(["-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost"])
            // Not a CA: TLS clients refuse a CA's certificate for a server.
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map_err(|e| format!("openssl, to make its certificate, cannot run ({e})"))?;
        if !made.success() {
            let _ = std::fs::remove_file(&key);
            return Err(format!("openssl could not make its certificate ({made})"));
        }
        // Postgres refuses a key that others may read.
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", key.display()))?;
        if self.as_postgres {
            run_checked(
                Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(&cert)
                    .arg(&key),
                "chown (the cluster's certificate, for user postgres)",
            )?;
        }
        Ok((cert, key))
    }

    /// Stops the cluster when it runs (a fast shutdown: sessions are ended);
    /// quiet, as there is nothing to stop on a first start.
    fn stop(&self) {
        let _ = self
            .program("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-s", "-m", "fast", "-w", "stop"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }

    /// `name` from the cluster's programs, run as `postgres` when we are root.
    fn program(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The folder with `initdb` and `pg_ctl`: on PATH, in Debian's or
/// Homebrew's places, else installed with apt on Debian or Ubuntu as root.
fn postgres_programs() -> Result<PathBuf> {
    let found = || {
        let on_path = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .unwrap_or_default();
        let mut versioned: Vec<PathBuf> =
            ["/usr/lib/postgresql", "/opt/homebrew/opt", "/usr/local/opt"]
                .iter()
                .flat_map(|root| std::fs::read_dir(root).into_iter().flatten().flatten())
                .map(|entry| entry.path())
                .filter(|path| {
                    path.file_name().is_some_and(|name| {
                        name.to_string_lossy().starts_with("postgresql")
                            || path.starts_with("/usr/lib/postgresql")
                    })
                })
                .map(|path| path.join("bin"))
                .collect();
        // The newest version first.
        versioned.sort();
        versioned.reverse();
        on_path
            .into_iter()
            .chain(versioned)
            .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
    };
    if let Some(dir) = found() {
        return Ok(dir);
    }
    if crate::is_root() && Path::new("/usr/bin/apt-get").exists() {
        println!("installing PostgreSQL with apt-get (once; a minute or two)");
        let installed = Command::new("apt-get")
            .args(["install", "-y", "-qq", "postgresql"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|status| status.success());
        if let (true, Some(dir)) = (installed, found()) {
            return Ok(dir);
        }
    }
    Err(
        "no Postgres answers and its programs (initdb, pg_ctl) are not installed: install \
         PostgreSQL (Debian or Ubuntu: `sudo apt-get install postgresql`; Fedora: `sudo dnf \
         install postgresql-server`; macOS: `brew install postgresql@17`), or run \
         `docker compose up -d db`, or set DATABASE_URL"
            .to_owned(),
    )
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("no free port: {e}"))
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

/// `cargo xtask run`'s database start with no server reachable (a port
/// where nothing listens): a private cluster comes up, the API serves from
/// it, and a saved quote is still there after the cluster and the API are
/// stopped and started again.
pub fn check_private_cluster(tally: &mut Tally) -> Result {
    let dir = crate::target_dir().join("postgres-check");
    let _ = std::fs::remove_dir_all(&dir);
    let probe = format!("127.0.0.1:{}", free_port()?);
    let server = Server::find(None, &probe, &dir)?;
    if !server.is_private() {
        return Err(format!(
            "something answers at {probe}; a private cluster was expected"
        ));
    }
    let mut api = ApiServer::start_on(&server.admin_url, "private_cluster", &[], &[])?;
    let token = api.dev_token("user_private_cluster")?;
    let body = r#"{"quote": "Kept across restarts."}"#;
    match http_request(&api.addr, "PUT", "/me/quote", &token, body) {
        Some((201, _)) => {}
        other => return Err(format!("saving a quote: {other:?}")),
    }
    api.stop()?;
    drop(server);
    let server = Server::find(None, &probe, &dir)?;
    api.start_again()?;
    let read = http_request(&api.addr, "GET", "/me/quote", &token, "");
    drop(api);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    match read {
        Some((200, body)) if body.contains("Kept across restarts.") => {
            println!("a private cluster served the API and kept its data across a restart");
            tally.passed += 1;
            Ok(())
        }
        other => {
            tally.failed += 1;
            Err(format!("after the restart: {other:?}"))
        }
    }
}
