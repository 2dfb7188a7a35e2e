//! Postgres for the tasks: the URLs they use, the server they find (the
//! one named, the local server, or a private cluster of the project's
//! own), and SQL run on its admin database.
//!
//! A private cluster runs as the user running the task, in a folder of
//! the checkout's (`target/postgres`). As root it cannot: Postgres refuses
//! to run as root, so it runs as user `postgres`, which may not be able to
//! enter the checkout (root's home, or any folder under a mode-0700
//! parent). Then its files live in a folder user `postgres` owns, outside
//! the checkout (`/var/tmp/quotes-postgres-<hash of the folder it stands
//! for>`), and its programs start in `/`.

use std::io::ErrorKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::net::free_port;
use crate::process::{is_root, run_checked};
use crate::report::Result;

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
/// the server answering at `probe`, else a private cluster for `dir`
/// (kept between runs, stopped when this is dropped). The URL is the
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
        let home = cluster_home(dir, is_root())?;
        println!(
            "no Postgres answers at {probe}: starting a private cluster in {}",
            home.display()
        );
        let cluster = Cluster::start(&home)?;
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

/// Stops the private cluster for `dir` if one runs, and deletes its files:
/// for a check that must start from nothing, even after a run of it that
/// was killed.
pub fn discard_private_cluster(dir: &Path) -> Result {
    let home = cluster_home(dir, is_root())?;
    if home.join("data/PG_VERSION").exists() {
        Programs::find()?.stop(&home.join("data"));
    }
    match std::fs::remove_dir_all(&home) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(format!("{}: {e}", home.display())),
        _ => Ok(()),
    }
}

/// Where the private cluster for `dir` keeps its files: `dir` itself, or,
/// as root, a folder outside the checkout named after `dir`, so that each
/// checkout (and each of its clusters) keeps one of its own from run to
/// run.
fn cluster_home(dir: &Path, as_root: bool) -> Result<PathBuf> {
    // The programs start in `/`: a relative path would point elsewhere.
    let dir = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !as_root {
        return Ok(dir);
    }
    let digest = Sha256::digest(dir.as_os_str().as_bytes());
    let short = digest[..6]
        .iter()
        .fold(String::new(), |hex, b| hex + &format!("{b:02x}"));
    Ok(PathBuf::from(format!("/var/tmp/quotes-postgres-{short}")))
}

/// A PostgreSQL cluster made with the machine's own programs (`initdb`,
/// `pg_ctl`) in its folder, listening on loopback only, on a free port;
/// its data stays in the folder between runs.
#[derive(Debug)]
struct Cluster {
    programs: Programs,
    home: PathBuf,
    port: u16,
}

impl Cluster {
    fn start(home: &Path) -> Result<Self> {
        let programs = Programs::find()?;
        programs.prepare(home)?;
        // A cluster left running by a run that was killed: stopped first,
        // so that this one starts with the settings below, on the port it
        // had.
        programs.stop(&home.join("data"));
        // The same port as last time when it is free, so that the URL
        // `run` prints stays the same from run to run.
        let port_file = home.join("port");
        let port = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|port| port.trim().parse::<u16>().ok())
            .filter(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
            .map_or_else(free_port, Ok)?;
        std::fs::write(&port_file, port.to_string())
            .map_err(|e| format!("{}: {e}", port_file.display()))?;
        let cluster = Self {
            programs,
            home: home.to_owned(),
            port,
        };
        let data = cluster.data();
        if !data.join("PG_VERSION").exists() {
            println!("creating the cluster (once; a few seconds)");
            run_checked(
                cluster
                    .programs
                    .command("initdb")
                    .arg("-D")
                    .arg(&data)
                    .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
                    .stdout(Stdio::null()),
                "initdb",
            )?;
        }
        // Loopback only, no Unix socket (its path could be too long for
        // one): nothing beyond this machine can reach it.
        // TLS as a packaged server has it, so that the tests of `sslmode`
        // run against this cluster too.
        let tls = match cluster.certificate() {
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
        let log = cluster.home.join("postgres.log");
        run_checked(
            cluster
                .programs
                .command("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-s", "-w", "-t", "60", "-o", &options, "start"]),
            "pg_ctl start",
        )?;
        println!(
            "Postgres runs at 127.0.0.1:{} (log: {})",
            cluster.port,
            log.display()
        );
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.home.join("data")
    }

    /// The cluster's certificate and key, made once: self-signed for
    /// `localhost`, as Debian's packaged server has it, the key readable by
    /// the server's user only.
    fn certificate(&self) -> Result<(PathBuf, PathBuf)> {
        let cert = self.home.join("server.crt");
        let key = self.home.join("server.key");
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
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("openssl, to make its certificate, cannot run ({e})"))?;
        if !made.success() {
            let _ = std::fs::remove_file(&key);
            return Err(format!("openssl could not make its certificate ({made})"));
        }
        // Postgres refuses a key that others may read.
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", key.display()))?;
        if let Some(owner) = self.programs.owner {
            for file in [&cert, &key] {
                owner.give(file)?;
            }
        }
        Ok((cert, key))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.programs.stop(&self.data());
    }
}

/// PostgreSQL's programs, run as the cluster's owner: the user running
/// the task, or `postgres` when that is root (Postgres refuses to run as
/// root).
#[derive(Debug)]
struct Programs {
    bin: PathBuf,
    /// User `postgres`, when the programs run as that user.
    owner: Option<Owner>,
}

impl Programs {
    fn find() -> Result<Self> {
        let bin = postgres_programs()?;
        let owner = if is_root() {
            Some(Owner::postgres()?)
        } else {
            None
        };
        Ok(Self { bin, owner })
    }

    /// `name` from the cluster's programs, run as the cluster's owner, in
    /// `/`: user `postgres` may not enter the folder we are in, and
    /// `initdb` stops when it cannot.
    fn command(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        let mut command = if self.owner.is_some() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        };
        command.current_dir("/");
        command
    }

    /// Makes `home` ready for the cluster. As root: a folder user
    /// `postgres` owns with mode 0700, where that user can write, and
    /// programs that user can run; what stands in the way is said in one
    /// line, with the way out, rather than deep in `initdb`'s output.
    fn prepare(&self, home: &Path) -> Result {
        let Some(owner) = self.owner else {
            return std::fs::create_dir_all(home).map_err(|e| format!("{}: {e}", home.display()));
        };
        let shown = home.display();
        match std::fs::create_dir(home) {
            Err(e) if e.kind() != ErrorKind::AlreadyExists => {
                return Err(format!("cannot make the cluster's folder {shown}: {e}"));
            }
            _ => {}
        }
        let remove = format!("remove it (`rm -rf {shown}`) and run this again");
        // Not followed if it is a link: the folder is root's to hand over,
        // in a place where anyone may make files.
        let found = std::fs::symlink_metadata(home).map_err(|e| format!("{shown}: {e}"))?;
        if !found.is_dir() {
            return Err(format!(
                "{shown} is in the cluster's place but is not a folder: {remove}"
            ));
        }
        match found.uid() {
            uid if uid == owner.uid => {}
            0 => owner.give(home)?,
            uid => {
                return Err(format!(
                    "{shown} belongs to user id {uid}, not to postgres: {remove}"
                ));
            }
        }
        std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("{shown}: {e}"))?;
        let runs = self
            .command("pg_ctl")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run runuser, to run Postgres as user postgres: {e}"))?;
        if !runs.success() {
            return Err(format!(
                "user postgres cannot run {}: let every user read and run PostgreSQL's \
                 programs, or set DATABASE_URL / QUOTES_TEST_ADMIN_URL to a server that runs",
                self.bin.join("pg_ctl").display()
            ));
        }
        let writes = Command::new("runuser")
            .args(["-u", "postgres", "--", "test", "-w"])
            .arg(home)
            .current_dir("/")
            .status()
            .is_ok_and(|status| status.success());
        if !writes {
            return Err(format!(
                "user postgres cannot write in {shown}: let every user enter its parent \
                 folders (`chmod o+x` on each), or set DATABASE_URL / QUOTES_TEST_ADMIN_URL \
                 to a server that runs"
            ));
        }
        Ok(())
    }

    /// Stops the cluster in `data` when it runs (a fast shutdown: sessions
    /// are ended); quiet, as there is nothing to stop on a first start.
    fn stop(&self, data: &Path) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(data)
            .args(["-s", "-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// User `postgres`, who owns the cluster's files when we are root.
#[derive(Debug, Clone, Copy)]
struct Owner {
    uid: u32,
    gid: u32,
}

impl Owner {
    fn postgres() -> Result<Self> {
        let id = |flag: &str| {
            Command::new("id")
                .args([flag, "postgres"])
                .stderr(Stdio::null())
                .output()
                .ok()
                .filter(|output| output.status.success())
                .and_then(|output| String::from_utf8_lossy(&output.stdout).trim().parse().ok())
        };
        match (id("-u"), id("-g")) {
            (Some(uid), Some(gid)) => Ok(Self { uid, gid }),
            _ => Err(
                "as root, the private cluster runs as user postgres, which this machine \
                 lacks: install PostgreSQL's server package (it makes the user), or run as \
                 another user, or set DATABASE_URL / QUOTES_TEST_ADMIN_URL to a server that runs"
                    .to_owned(),
            ),
        }
    }

    /// Hands `path` (a file or the cluster's folder, not followed if it is
    /// a link) to this user.
    fn give(self, path: &Path) -> Result {
        std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid))
            .map_err(|e| format!("cannot give {} to user postgres: {e}", path.display()))
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
    if is_root() && Path::new("/usr/bin/apt-get").exists() {
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::cluster_home;

    #[test]
    fn as_root_each_folder_has_a_cluster_home_of_its_own_outside_it() {
        let run = cluster_home(Path::new("/root/quotes/target/postgres"), true).unwrap();
        let check = cluster_home(Path::new("/root/quotes/target/postgres-check"), true).unwrap();
        assert!(run.starts_with("/var/tmp"), "{}", run.display());
        assert_ne!(run, check);
        assert_eq!(
            run,
            cluster_home(Path::new("/root/quotes/target/postgres"), true).unwrap()
        );
        assert_eq!(
            cluster_home(Path::new("/home/me/quotes/target/postgres"), false).unwrap(),
            Path::new("/home/me/quotes/target/postgres")
        );
    }
}
