//! A TCP proxy in front of Postgres that a test can cut, restore and slow
//! down: the database going away, for real, under the API.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::database::{TestDatabase, admin_address};

/// Makes the `DATABASE_URL` for a test database.
pub type DatabaseUrlFor = Box<dyn FnOnce(&TestDatabase) -> String>;

/// A TCP proxy to Postgres that the test can cut and restore, standing in
/// for a database that goes away.
#[expect(missing_debug_implementations, reason = "a test fixture")]
pub struct FlakyProxy {
    pub addr: SocketAddr,
    up: Arc<std::sync::atomic::AtomicBool>,
    /// Added to every answer from the database, to make queries slow.
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl FlakyProxy {
    /// A proxy to the test Postgres (`QUOTES_TEST_ADMIN_URL`).
    pub async fn to_database() -> Self {
        Self::start(&admin_address()).await
    }

    /// For a test server's `DATABASE_URL`: the test database, reached through
    /// this proxy, without TLS.
    pub fn database_url(&self) -> DatabaseUrlFor {
        let addr = self.addr.to_string();
        Box::new(move |db| db.url_at(&addr, "sslmode=disable"))
    }

    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let delay_ms = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let target = target.to_owned();
        let accept = tokio::spawn({
            let up = up.clone();
            let delay_ms = delay_ms.clone();
            let connections = connections.clone();
            async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        return;
                    };
                    if !up.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let target = target.clone();
                    let delay_ms = delay_ms.clone();
                    let task = tokio::spawn(async move {
                        if let Ok(outbound) = TcpStream::connect(&target).await {
                            let (from_client, to_client) = inbound.split();
                            let (from_db, to_db) = tokio::io::split(outbound);
                            let _ = tokio::join!(
                                pump(from_client, to_db, None),
                                pump(from_db, to_client, Some(&delay_ms)),
                            );
                        }
                    });
                    connections.lock().unwrap().push(task);
                }
            }
        });
        Self {
            addr,
            up,
            delay_ms,
            connections,
            accept,
        }
    }

    /// Delays every answer from the database by `delay`.
    pub fn slow_down(&self, delay: Duration) {
        self.delay_ms
            .store(u64::try_from(delay.as_millis()).unwrap(), Ordering::SeqCst);
    }

    /// Cuts every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// Copies bytes one way until either side closes, optionally late.
async fn pump(
    mut from: impl tokio::io::AsyncRead + Unpin,
    mut to: impl tokio::io::AsyncWrite + Unpin,
    delay_ms: Option<&std::sync::atomic::AtomicU64>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let Ok(read) = from.read(&mut buffer).await else {
            return;
        };
        if read == 0 {
            let _ = to.shutdown().await;
            return;
        }
        if let Some(delay) = delay_ms
            .map(|d| d.load(Ordering::SeqCst))
            .filter(|&d| d > 0)
        {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
