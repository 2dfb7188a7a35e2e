//! The HTTP server's connections: how many it holds and how long each
//! may keep it waiting. actix's own server accepts the connections and
//! actix's HTTP/1 dispatcher speaks the protocol; between them every
//! connection is a [`Guarded`] stream that keeps the deadlines and limits
//! the dispatcher does not:
//!
//! - **every** request's head within the header timeout of its first byte
//!   (the dispatcher times only a connection's first request, so a client
//!   could hold a kept-alive connection for ever with one byte of a second
//!   request), answered `408` and closed otherwise;
//! - a client that takes none of an answer for the send timeout is cut off;
//! - each worker holds at most its share of the open-file limit; near it,
//!   each new connection closes the longest-idle ones;
//! - each client address (an IPv6 one by its /64) holds at most
//!   `max_per_address` connections across workers, unless it is a trusted
//!   proxy; one more is answered `429` and closed.

mod answers;
pub mod framing;
mod limits;
mod stream;

use std::net::TcpListener;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_service::{IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt as _};
use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Server};

use self::limits::{Addresses, Worker};
pub use self::stream::{Guarded, Timeouts};
use super::proxies::TrustedProxies;

/// Connections the kernel queues for accepting.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Open connections one worker serves at once, at most: more would cost
/// memory for little gain.
pub const MAX_CONNECTIONS_PER_WORKER: usize = 10_000;

/// File descriptors kept for everything but client connections: the
/// database pool's, the web app's files, signing-key fetches, logs.
const RESERVED_FILES: usize = 128;

/// How the server treats connections.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// How long a request's head may take to arrive, from its first byte.
    pub header_timeout: Duration,
    /// How long an answer may wait for a client that takes none of it.
    pub send_timeout: Duration,
    /// How long an idle keep-alive connection stays open.
    pub keep_alive: Duration,
    /// Most open connections in all; `None`: as many as the open-file
    /// limit allows, up to [`MAX_CONNECTIONS_PER_WORKER`] a worker.
    pub max_connections: Option<usize>,
    /// Most open connections from one client address; `None`: no limit.
    pub max_per_address: Option<usize>,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(5),
            send_timeout: Duration::from_secs(15),
            keep_alive: Duration::from_secs(30),
            max_connections: None,
            max_per_address: Some(256),
        }
    }
}

/// The connection budget, worked out once at start from the settings and
/// the open-file limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Open connections in all.
    pub total: usize,
    /// Open connections per worker.
    pub per_worker: usize,
    /// The open-file limit it was worked out from, if known.
    pub file_limit: Option<u64>,
}

impl Budget {
    /// Raises the soft open-file limit to the hard one (as servers do),
    /// then shares what it allows, less what the process needs besides,
    /// among `workers`.
    pub fn for_workers(settings: &ConnectionSettings, workers: usize, reserved: usize) -> Self {
        let file_limit = rlimit::increase_nofile_limit(u64::MAX)
            .map_err(|error| tracing::warn!(%error, "the open-file limit is unknown"))
            .ok();
        Self::from_limit(settings, workers, reserved, file_limit)
    }

    fn from_limit(
        settings: &ConnectionSettings,
        workers: usize,
        reserved: usize,
        file_limit: Option<u64>,
    ) -> Self {
        let workers = workers.max(1);
        let fits_files = file_limit.map_or(usize::MAX, |limit| {
            usize::try_from(limit)
                .unwrap_or(usize::MAX)
                .saturating_sub(RESERVED_FILES + reserved)
                .max(workers)
        });
        let wanted = settings
            .max_connections
            .unwrap_or(MAX_CONNECTIONS_PER_WORKER * workers);
        if settings.max_connections.is_some() && wanted > fits_files {
            tracing::warn!(
                wanted,
                allowed = fits_files,
                file_limit,
                "HTTP_MAX_CONNECTIONS is more than the open-file limit allows; \
                 raise the limit (ulimit -n) or lower the setting"
            );
        }
        let total = wanted.min(fits_files).max(workers);
        Self {
            total,
            per_worker: total / workers,
            file_limit,
        }
    }
}

/// Serves `app` on `listener` (called `name` in the log) with `workers`
/// threads, every connection guarded as the module says.
pub fn serve<F, I, S, B>(
    name: &'static str,
    listener: TcpListener,
    workers: usize,
    settings: &ConnectionSettings,
    trusted_proxies: &TrustedProxies,
    shutdown_timeout: Duration,
    app: F,
) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, actix_http::Request>,
    S: ServiceFactory<actix_http::Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_http::Response<B>> + 'static,
    <S::Service as Service<actix_http::Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let local_addr = listener.local_addr()?;
    let budget = Budget::for_workers(settings, workers, 0);
    let addresses = settings.max_per_address.map(Addresses::new);
    let timeouts = Timeouts {
        header: settings.header_timeout,
        send: settings.send_timeout,
    };
    let keep_alive = settings.keep_alive;
    // The dispatcher's own timer for a first head stays as a backstop,
    // behind the stream's.
    let backstop = settings.header_timeout + Duration::from_secs(1);
    let trusted_proxies = trusted_proxies.clone();
    let builder = Server::build();
    let shutdown = builder.graceful_shutdown_signal();
    let builder = builder
        .workers(workers)
        .backlog(LISTEN_BACKLOG)
        .max_concurrent_connections(budget.per_worker)
        .shutdown_timeout(shutdown_timeout.as_secs())
        // SIGTERM/SIGINT are the caller's to handle (it drains first).
        .disable_signals()
        .listen(name, listener, move || {
            let worker = Worker::new(budget.per_worker);
            let addresses = addresses.clone();
            let trusted_proxies = trusted_proxies.clone();
            let shutdown = shutdown.clone();
            let accept = actix_service::fn_service(move |io: tokio::net::TcpStream| {
                let peer = io.peer_addr().ok();
                let guarded = guard(
                    io,
                    peer,
                    timeouts,
                    &worker,
                    addresses.as_ref(),
                    &trusted_proxies,
                );
                async move { Ok::<_, actix_http::error::DispatchError>((guarded, peer)) }
            });
            let app = app()
                .into_factory()
                .map_err(|error| error.into().error_response());
            let http = actix_http::HttpService::build()
                .keep_alive(keep_alive)
                .client_request_timeout(backstop)
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(local_addr)
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                .h1(actix_service::map_config(app, |()| AppConfig::default()));
            accept.and_then(http)
        })?;
    tracing::info!(
        listener = name,
        connections = budget.total,
        per_worker = budget.per_worker,
        per_address = settings.max_per_address,
        file_limit = budget.file_limit,
        "at most {} open connections",
        budget.total
    );
    Ok(builder.run())
}

/// A connection just accepted: counted against its worker and address,
/// refused when the address holds its share already.
fn guard(
    io: tokio::net::TcpStream,
    peer: Option<std::net::SocketAddr>,
    timeouts: Timeouts,
    worker: &Rc<Worker>,
    addresses: Option<&Arc<Addresses>>,
    trusted_proxies: &TrustedProxies,
) -> Guarded<tokio::net::TcpStream> {
    let slot = worker.admit();
    let ip = peer.map(|peer| peer.ip().to_canonical());
    let counted = addresses
        .zip(ip)
        .filter(|(_, ip)| !trusted_proxies.contains(ip));
    let Some((addresses, ip)) = counted else {
        return Guarded::new(io, timeouts, slot, None, None);
    };
    let hold = addresses.hold(ip);
    let refused = if hold.is_none() {
        quotes_core::metrics::record_connection_closed("address_limit");
        Some(answers::too_many_connections(addresses.max()))
    } else {
        None
    };
    Guarded::new(io, timeouts, slot, hold, refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_fits_the_open_file_limit() {
        let settings = ConnectionSettings::default();
        let budget = Budget::from_limit(&settings, 2, 8, Some(1024));
        assert_eq!(budget.total, 1024 - RESERVED_FILES - 8);
        assert_eq!(budget.per_worker, budget.total / 2);

        let roomy = Budget::from_limit(&settings, 2, 8, Some(1 << 20));
        assert_eq!(roomy.per_worker, MAX_CONNECTIONS_PER_WORKER);

        let asked = ConnectionSettings {
            max_connections: Some(100),
            ..ConnectionSettings::default()
        };
        assert_eq!(
            Budget::from_limit(&asked, 4, 8, Some(1 << 20)).per_worker,
            25
        );
        // More than the files allow: what the files allow.
        let greedy = ConnectionSettings {
            max_connections: Some(1_000_000),
            ..ConnectionSettings::default()
        };
        assert_eq!(
            Budget::from_limit(&greedy, 1, 0, Some(2048)).total,
            2048 - RESERVED_FILES
        );
        // Never less than a connection per worker.
        assert_eq!(Budget::from_limit(&settings, 4, 0, Some(10)).per_worker, 1);
    }
}
