//! Start-up: [`Application::build`] binds the listener first (so tests can ask for
//! port 0), prepares the pool, the key store and the routes; `run` serves
//! until SIGTERM/SIGINT and lets in-flight requests finish.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, web};
use utoipa_actix_web::AppExt;

use crate::config::Config;
#[cfg(feature = "dev-idp")]
use crate::dev_idp::{self, DevIdp};
use crate::http::caller::Access;
use crate::http::connection;
use crate::http::cors::CorsPolicy;
use crate::http::error::ResourceMetadata;
use crate::http::rate_limit::{self, RateLimits};
use crate::http::resource::{METADATA_PATH, ResourceSettings};
use crate::http::telemetry;
use crate::http::{MAX_BODY_BYTES, docs, error, metrics as metrics_http, ops, security, webhooks};
use crate::{openapi, routes, web_app};
use quotes_core::auth::{AuthSettings, Clock, KeyStore, KeyStoreSettings, Verifier};
use quotes_core::db::Database;
use quotes_core::metrics;
use quotes_core::rate_limit::{CallerLimits, RateClock};
use quotes_core::store::QuoteStore;

/// One share of the pool for each worker (see `Database`), with the quotes'
/// store on it: there are never more shares, and so workers, than
/// connections.
fn database_shares(config: &Config) -> std::io::Result<Vec<WorkerData>> {
    let workers = config
        .http_workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let shares =
        Database::split(config.database.clone(), workers).map_err(std::io::Error::other)?;
    // The connection budget: every instance may hold this many, so
    // instances x this must fit what the database or pooler accepts.
    tracing::info!(
        database_connections = config.database.pool_size,
        workers = shares.len(),
        pool_mode = ?config.database.pool_mode,
        "at most {} database connections from this instance",
        config.database.pool_size
    );
    Ok(with_stores(shares))
}

/// What each worker is given of the database.
type WorkerData = (web::Data<QuoteStore>, web::Data<Database>);

/// Each worker's share of the pool, and the quotes' store on it.
fn with_stores(shares: Vec<Database>) -> Vec<WorkerData> {
    shares
        .into_iter()
        .map(|db| {
            let store = QuoteStore::new(db.clone());
            (web::Data::new(store), web::Data::new(db))
        })
        .collect()
}

/// Each caller's share, shared by every worker; `None` when switched off.
fn rate_limits(config: &Config, clock: RateClock) -> Option<web::Data<RateLimits>> {
    config.rate_limit.map(|settings| {
        let limits = std::sync::Arc::new(CallerLimits::with_clock(settings, clock));
        CallerLimits::forget_idle_in_background(&limits);
        web::Data::new(RateLimits::new(
            limits,
            config.trusted_proxies.clone(),
            CorsPolicy::new(config.cors_allowed_origins.clone()),
        ))
    })
}

/// What tests may replace in a server: the key store's timings, the
/// verifier's clock and the rate limit's.
#[derive(Debug, Default)]
pub struct Seams {
    /// How the signing keys are fetched and refreshed.
    pub key_store: KeyStoreSettings,
    /// Where the verifier reads the time; the system's clock when `None`.
    pub clock: Option<std::sync::Arc<dyn Clock>>,
    /// Where the rate limit reads the time.
    pub rate_clock: RateClock,
}

/// A configured server, bound to its port but not yet serving.
pub struct Application {
    port: u16,
    server: Server,
    /// Marked draining on SIGTERM/SIGINT.
    readiness: web::Data<ops::Readiness>,
    /// How long the server keeps serving after SIGTERM/SIGINT.
    drain: std::time::Duration,
    /// The metrics listener, when `METRICS_BIND_ADDR` asks for one.
    metrics: Option<(u16, Server)>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Binds the listener, applies pending migrations when the database is
    /// reachable (retrying in the background when it is not) and starts
    /// loading the signing keys.
    pub async fn build(config: Config) -> std::io::Result<Self> {
        Self::build_with(config, Seams::default()).await
    }

    /// As [`Application::build`], with the key store's timings and the
    /// clock chosen by the caller (tests).
    #[cfg_attr(
        not(feature = "dev-idp"),
        expect(unused_mut, reason = "only the development provider changes it")
    )]
    pub async fn build_with(mut config: Config, seams: Seams) -> std::io::Result<Self> {
        let listener = listen(config.bind_addr)?;
        let local_addr = listener.local_addr()?;
        let port = local_addr.port();

        #[cfg(feature = "dev-idp")]
        let dev_idp = dev_identity_provider(&mut config, local_addr)?;
        warn_about_third_party_access(&config);
        metrics::install();
        let shares = database_shares(&config)?;
        let workers = shares.len();
        shares[0].1.migrate_in_background().await;
        let next_share = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));

        let rate_clock = seams.rate_clock.clone();
        let verifier = web::Data::new(verifier(&config.auth, seams));
        let webhook_secret = config.clerk_webhook_secret.clone().map(web::Data::new);

        let readiness = web::Data::new(ops::Readiness::default());
        let metrics_on_api =
            web::Data::new(metrics_http::OnApiListener(config.metrics.on_api_listener));
        let metrics = match config.metrics.bind_addr {
            Some(addr) => Some(metrics_server(addr, shares[0].1.clone())?),
            None => None,
        };

        let document = openapi::served_document(&provider(&config));
        let (access, resource_settings, docs_sign_in) = third_party_access(&config);
        let request_timeout = config.request_timeout;
        let web_app = config.web.as_ref().map(|web| {
            web::Data::new(web_app::WebApp::new(
                web,
                &config.auth,
                config.trusted_proxies.clone(),
                local_addr,
            ))
        });
        let cors = CorsPolicy::new(config.cors_allowed_origins.clone());
        let rate_limits = rate_limits(&config, rate_clock);

        let app_readiness = readiness.clone();
        let app = move || {
            // Called once on each worker's thread (again if one restarts).
            let share = next_share.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (store, db) = shares[share % shares.len()].clone();
            let mut app = App::new()
                .app_data(store)
                .app_data(db)
                .app_data(verifier.clone())
                .app_data(access.clone())
                .app_data(resource_settings.clone())
                .app_data(readiness.clone())
                .app_data(metrics_on_api.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(MAX_BODY_BYTES)
                        .error_handler(error::json_error),
                )
                // Raw bodies are read only by the webhook, whose deliveries
                // may be larger than the JSON limit above.
                .app_data(webhooks::payload_config())
                .configure(docs::routes(document.clone(), docs_sign_in.clone()));
            if let Some(secret) = &webhook_secret {
                app = app.app_data(secret.clone());
            }
            if let Some(limits) = &rate_limits {
                app = app.app_data(limits.clone());
            }
            #[cfg(feature = "dev-idp")]
            if let Some(idp) = &dev_idp {
                // Registered before the API's catch-all scope, so its paths
                // never reach it.
                app = app.app_data(idp.clone()).configure(dev_idp::routes);
            }
            if let Some(web_app) = &web_app {
                // The bundle's files are the API's fallback (see below).
                app = app.app_data(web_app.clone()).configure(web_app::routes);
            }
            app.into_utoipa_app()
                // The API's CORS policy wraps the API only: the development
                // provider and the docs have their own.
                .service(
                    utoipa_actix_web::scope("")
                        .configure(routes::configure)
                        .default_service(web::to(web_app::fallback))
                        .wrap(cors.middleware(routes::cors_methods())),
                )
                .into_app()
                .app_data(telemetry::RequestTimeout(request_timeout))
                .wrap(from_fn(head_as_get))
                .wrap(from_fn(rate_limit::limit))
                .wrap(from_fn(telemetry::deadline))
                .wrap(ErrorHandlers::new().default_handler(error::ensure_problem_json))
                .wrap(from_fn(telemetry::observe))
                .wrap(from_fn(security::headers))
        };
        let server = connection::serve(
            "api",
            listener,
            workers,
            &config.connections,
            &config.trusted_proxies,
            config.shutdown_timeout,
            app,
        )?;
        Ok(Self {
            port,
            server,
            readiness: app_readiness,
            drain: config.shutdown_drain,
            metrics,
        })
    }

    /// The port actually bound (useful when asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The metrics listener's port, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// A handle to stop the server from elsewhere.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the process is told to stop (SIGTERM or SIGINT): from
    /// then on `/readyz` answers `503` while the server keeps serving for
    /// the drain period, then it stops accepting connections and lets the
    /// requests in flight finish. A second signal skips the rest of the
    /// drain. The metrics listener stops with the API.
    pub async fn run(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let readiness = self.readiness.clone();
        let drain = self.drain;
        tokio::spawn(async move {
            if stop_signal().await.is_err() {
                return;
            }
            readiness.start_draining();
            tracing::info!(
                drain_secs = drain.as_secs(),
                "stopping: /readyz answers 503, serving on during the drain"
            );
            tokio::select! {
                () = tokio::time::sleep(drain) => {}
                _ = stop_signal() => tracing::info!("stopping now: a second signal"),
            }
            handle.stop(true).await;
        });
        let Some((_, metrics)) = self.metrics else {
            return self.server.await;
        };
        let metrics_handle = metrics.handle();
        let metrics = tokio::spawn(metrics);
        let served = self.server.await;
        metrics_handle.stop(true).await;
        let _ = metrics.await;
        served
    }
}

/// The token verifier, its keys loading from now on.
fn verifier(auth: &AuthSettings, seams: Seams) -> Verifier {
    let keys = match &auth.static_key {
        Some(key) => KeyStore::fixed(key.clone()),
        None => KeyStore::new(&auth.issuer, auth.jwks_url.clone(), seams.key_store),
    };
    keys.start();
    let verifier = Verifier::new(auth, keys);
    match seams.clock {
        Some(clock) => verifier.with_clock(clock),
        None => verifier,
    }
}

/// The first SIGTERM or SIGINT.
async fn stop_signal() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        interrupted = tokio::signal::ctrl_c() => interrupted?,
    }
    Ok(())
}

/// The metrics listener: one worker, `GET /metrics` only, stopped with the
/// API (see [`Application::run`]).
fn metrics_server(
    addr: std::net::SocketAddr,
    db: web::Data<Database>,
) -> std::io::Result<(u16, Server)> {
    let listener = listen(addr)?;
    let port = listener.local_addr()?.port();
    let app = move || {
        App::new()
            .app_data(db.clone())
            .configure(metrics_http::listener_routes)
            .wrap(from_fn(security::headers))
    };
    let server = connection::serve(
        "metrics",
        listener,
        1,
        &connection::ConnectionSettings::default(),
        &crate::http::proxies::TrustedProxies::default(),
        std::time::Duration::from_secs(1),
        app,
    )?;
    Ok((port, server))
}

/// The development provider, when asked for; the issuer then names the
/// port actually bound (tests bind port 0).
#[cfg(feature = "dev-idp")]
fn dev_identity_provider(
    config: &mut Config,
    local_addr: std::net::SocketAddr,
) -> std::io::Result<Option<web::Data<DevIdp>>> {
    Ok(match &config.dev_idp {
        Some(settings) => {
            // The issuer names the port actually bound (tests bind port 0),
            // and so does the resource, the API, its tokens are for.
            config.auth.issuer = dev_idp::issuer_for(local_addr);
            let resource = config
                .auth
                .resource
                .get_or_insert_with(|| format!("http://{local_addr}"))
                .clone();
            let mut settings = settings.clone();
            if settings.resource.is_none() {
                settings.resource = Some(dev_idp::Resource::new(&resource).map_err(|message| {
                    std::io::Error::other(format!("AUTH_RESOURCE: {message}"))
                })?);
            }
            let idp = DevIdp::load_or_create(&settings, config.auth.issuer.clone())
                .map_err(std::io::Error::other)?;
            tracing::warn!(
                issuer = idp.issuer(),
                "DEVELOPMENT IDENTITY PROVIDER ENABLED: anyone who can reach this address \
                 can sign in as anyone. Never use it in production."
            );
            Some(web::Data::new(idp))
        }
        None => None,
    })
}

/// `HEAD` is answered wherever `GET` is (RFC 9110 §9.3.2): the request is
/// routed as a `GET`, and the connection, which saw a `HEAD`, sends the
/// headers without the body. The access log and metrics keep `HEAD`.
async fn head_as_get(
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(req).await
}

/// What third parties are told: the scopes each endpoint needs, where the
/// metadata is, what it says, and how Swagger UI signs in.
fn third_party_access(
    config: &Config,
) -> (
    web::Data<Access>,
    web::Data<ResourceSettings>,
    Option<docs::DocsSignIn>,
) {
    let access = web::Data::new(Access {
        required: routes::required_scopes(),
        metadata: config
            .auth
            .resource
            .as_ref()
            .map(|resource| ResourceMetadata(format!("{resource}{METADATA_PATH}").into())),
    });
    let resource_settings = web::Data::new(ResourceSettings {
        resource: config.auth.resource.clone(),
        authorization_server: config.auth.issuer.clone(),
    });
    let docs_sign_in = config
        .docs_client_id
        .clone()
        .map(|client_id| docs::DocsSignIn {
            client_id,
            resource: config.auth.resource.clone(),
        });
    (access, resource_settings, docs_sign_in)
}

/// The provider whose sign-in the served description names.
fn provider(config: &Config) -> openapi::Provider {
    let issuer = config.auth.issuer.clone();
    #[cfg(feature = "dev-idp")]
    if config.dev_idp.is_some() {
        return openapi::Provider::Development { issuer };
    }
    if config.auth.clerk {
        openapi::Provider::Clerk {
            frontend_api: issuer,
        }
    } else {
        openapi::Provider::OpenId { issuer }
    }
}

/// Settings that work but leave a door open or a client guessing.
fn warn_about_third_party_access(config: &Config) {
    warn_if_any_audience_is_accepted(config);
    let auth = &config.auth;
    if auth.unscoped_tokens_grant_all {
        tracing::warn!(
            "AUTH_UNSCOPED_TOKENS_GRANT_ALL is on: a token that names none of this API's \
             scopes may read, replace and delete its user's quote, as before scopes existed. \
             Have clients ask for quotes:read and quotes:write, then turn it off."
        );
    }
    if auth.resource.is_none() {
        tracing::warn!(
            "AUTH_RESOURCE is not set: the protected-resource metadata names the address each \
             request was sent to, and tokens bound to another audience are not recognised. \
             Set it to this API's public URL, e.g. https://api.example.com."
        );
    }
}

/// With a generic OpenID issuer, a token is only known to be meant for us
/// when its audience or authorized party says so.
fn warn_if_any_audience_is_accepted(config: &Config) {
    let auth = &config.auth;
    #[cfg(feature = "dev-idp")]
    let development = config.dev_idp.is_some();
    #[cfg(not(feature = "dev-idp"))]
    let development = false;
    if !development
        && !auth.clerk
        && auth.audiences.is_empty()
        && auth.resource.is_none()
        && auth.client_ids.is_empty()
        && auth.authorized_parties.is_empty()
    {
        tracing::warn!(
            issuer = %auth.issuer,
            "neither AUTH_AUDIENCE nor AUTH_AUTHORIZED_PARTIES is set: every token this \
             issuer signs is accepted, including those it issues to other applications of \
             the same tenant. Set AUTH_AUDIENCE to this API's audience (or \
             AUTH_AUTHORIZED_PARTIES to the web app's origins)."
        );
    }
}

/// Binds the listening socket with room for bursts of new connections while
/// the workers are busy (the standard library's default backlog is 128).
fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(connection::LISTEN_BACKLOG)?.into_std()
}
