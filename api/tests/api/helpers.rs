//! The test harness: a fresh database per test, a real JWKS server on
//! loopback whose keys and behaviour the test controls, signed tokens, and
//! the real API server on a random port.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpResponse, HttpServer, web};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use quotes_api::auth::KeyStoreSettings;
use quotes_api::config::{AuthConfig, Config, DatabaseConfig, LogFormat, MetricsConfig};
use quotes_api::db::DatabaseUrl;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Where the test Postgres is; tests only create and drop their own databases.
pub fn admin_url() -> String {
    std::env::var("QUOTES_TEST_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database of its own for one test, dropped when the test ends.
#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "quotes_test_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
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
        let admin = url::Url::parse(&admin_url()).unwrap();
        let host_port = format!(
            "{}:{}",
            admin.host_str().unwrap(),
            admin.port().unwrap_or(5432)
        );
        self.url_at(&host_port, "sslmode=disable")
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

/// A signing key of the test identity provider.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Value,
}

impl TestKey {
    /// Loads `tests/api/keys/{file}.pem` and describes it as a JWK whose
    /// `alg` is set when `pin_alg` is true.
    pub fn load(file: &str, kid: &str, alg: Algorithm, pin_alg: bool) -> Self {
        let path = format!("{}/tests/api/keys/{file}.pem", env!("CARGO_MANIFEST_DIR"));
        let pem = std::fs::read(&path).expect(&path);
        let encoding = match alg {
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
            _ => EncodingKey::from_rsa_pem(&pem),
        }
        .unwrap();
        let mut jwk =
            serde_json::to_value(Jwk::from_encoding_key(&encoding, alg).unwrap()).unwrap();
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        if !pin_alg {
            jwk.as_object_mut().unwrap().remove("alg");
        }
        Self {
            kid: kid.to_owned(),
            alg,
            encoding,
            jwk,
        }
    }

    pub fn rsa() -> Self {
        Self::load("rsa-2048", "rsa-1", Algorithm::RS256, false)
    }

    pub fn ec_p256() -> Self {
        Self::load("ec-p256", "ec-256", Algorithm::ES256, true)
    }

    pub fn ec_p384() -> Self {
        Self::load("ec-p384", "ec-384", Algorithm::ES384, true)
    }

    pub fn ed25519() -> Self {
        Self::load("ed25519", "ed-1", Algorithm::EdDSA, true)
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(self.alg, claims)
    }

    /// Signs with another algorithm of the same key family.
    pub fn sign_as(&self, alg: Algorithm, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    pub fn sign_with_header(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.encoding).unwrap()
    }
}

pub fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// How the JWKS server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwksMode {
    Serve,
    Fail,
    Garbage,
    /// The keys, padded past any sane JWKS size.
    Huge,
    Slow(Duration),
}

#[derive(Debug)]
struct IdpState {
    keys: Vec<Value>,
    jwks_mode: JwksMode,
    discovery: bool,
    /// Path the discovery document points at.
    jwks_path: String,
    cache_control: Option<String>,
}

/// A JWKS server on loopback: an OpenID issuer whose keys, behaviour and
/// fetch count the test controls.
pub struct TestIdp {
    pub issuer: String,
    state: Arc<Mutex<IdpState>>,
    jwks_fetches: Arc<AtomicUsize>,
    discovery_fetches: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

impl TestIdp {
    pub fn start(keys: &[&TestKey]) -> Self {
        let state = Arc::new(Mutex::new(IdpState {
            keys: keys.iter().map(|key| key.jwk.clone()).collect(),
            jwks_mode: JwksMode::Serve,
            discovery: true,
            jwks_path: "/keys/jwks.json".to_owned(),
            cache_control: None,
        }));
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let discovery_fetches = Arc::new(AtomicUsize::new(0));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());

        let data = web::Data::new((
            state.clone(),
            jwks_fetches.clone(),
            discovery_fetches.clone(),
            issuer.clone(),
        ));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(discovery),
                )
                .default_service(web::to(jwks))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            issuer,
            state,
            jwks_fetches,
            discovery_fetches,
            handle,
        }
    }

    pub fn set_keys(&self, keys: &[&TestKey]) {
        self.state.lock().unwrap().keys = keys.iter().map(|key| key.jwk.clone()).collect();
    }

    pub fn set_raw_keys(&self, keys: Vec<Value>) {
        self.state.lock().unwrap().keys = keys;
    }

    pub fn set_mode(&self, mode: JwksMode) {
        self.state.lock().unwrap().jwks_mode = mode;
    }

    /// Without discovery, only `/.well-known/jwks.json` serves keys.
    pub fn disable_discovery(&self) {
        let mut state = self.state.lock().unwrap();
        state.discovery = false;
        "/.well-known/jwks.json".clone_into(&mut state.jwks_path);
    }

    pub fn set_cache_control(&self, value: &str) {
        self.state.lock().unwrap().cache_control = Some(value.to_owned());
    }

    pub fn jwks_path(&self) -> String {
        self.state.lock().unwrap().jwks_path.clone()
    }

    pub fn jwks_fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn discovery_fetches(&self) -> usize {
        self.discovery_fetches.load(Ordering::SeqCst)
    }

    /// Session-token-like claims for `sub`, valid for a minute.
    pub fn claims(&self, sub: &str) -> Value {
        let now = now();
        json!({
            "iss": self.issuer,
            "sub": sub,
            "iat": now,
            "nbf": now - 5,
            "exp": now + 60,
            "azp": "http://localhost:3000",
            "sid": "sess_test",
        })
    }
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

type IdpData = web::Data<(
    Arc<Mutex<IdpState>>,
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
    String,
)>;

async fn discovery(data: IdpData) -> HttpResponse {
    let (state, _, discovery_fetches, issuer) = &**data;
    discovery_fetches.fetch_add(1, Ordering::SeqCst);
    let state = state.lock().unwrap();
    if !state.discovery {
        return HttpResponse::NotFound().finish();
    }
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}{}", state.jwks_path),
        "authorization_endpoint": format!("{issuer}/authorize"),
    }))
}

async fn jwks(req: actix_web::HttpRequest, data: IdpData) -> HttpResponse {
    let (state, jwks_fetches, _, _) = &**data;
    let (mode, keys, cache_control, path) = {
        let state = state.lock().unwrap();
        (
            state.jwks_mode,
            state.keys.clone(),
            state.cache_control.clone(),
            state.jwks_path.clone(),
        )
    };
    if req.path() != path {
        return HttpResponse::NotFound().finish();
    }
    jwks_fetches.fetch_add(1, Ordering::SeqCst);
    match mode {
        JwksMode::Fail => HttpResponse::InternalServerError().finish(),
        JwksMode::Garbage => HttpResponse::Ok()
            .content_type("text/html")
            .body("<html>oops</html>"),
        JwksMode::Huge => {
            HttpResponse::Ok().json(json!({ "keys": keys, "padding": "x".repeat(1024 * 1024) }))
        }
        JwksMode::Slow(delay) => {
            tokio::time::sleep(delay).await;
            HttpResponse::Ok().json(json!({ "keys": keys }))
        }
        JwksMode::Serve => {
            let mut response = HttpResponse::Ok();
            if let Some(value) = cache_control {
                response.insert_header(("cache-control", value));
            }
            response.json(json!({ "keys": keys }))
        }
    }
}

/// Configuration for a test server: loopback, one worker, short timeouts.
pub fn test_config(database_url: &str, issuer: &str) -> Config {
    Config {
        bind_addr: "127.0.0.1:0".parse().unwrap(),
        http_workers: Some(1),
        shutdown_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(15),
        cors_allowed_origins: vec!["http://localhost:3000".to_owned()],
        log_format: LogFormat::Text,
        metrics: MetricsConfig {
            bind_addr: Some("127.0.0.1:0".parse().unwrap()),
            on_api_listener: false,
        },
        trusted_proxies: Vec::new(),
        database: DatabaseConfig {
            url: DatabaseUrl::parse(database_url).unwrap(),
            pool_size: 4,
            acquire_timeout: Duration::from_millis(1500),
            connect_timeout: Duration::from_millis(1500),
            statement_timeout: Duration::from_secs(5),
        },
        auth: AuthConfig {
            issuer: issuer.to_owned(),
            jwks_url: None,
            audiences: Vec::new(),
            authorized_parties: Vec::new(),
            leeway: Duration::from_secs(5),
            clerk: false,
            static_key: None,
        },
        dev_idp: None,
        clerk_webhook_secret: None,
        web: None,
    }
}

/// A path in the temporary directory that no other test uses, removed on drop.
pub struct TempPath(pub std::path::PathBuf);

impl TempPath {
    pub fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        Self(std::env::temp_dir().join(format!(
            "quotes-test-{}-{}-{name}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Key store timings short enough for tests.
pub fn test_key_settings() -> KeyStoreSettings {
    KeyStoreSettings {
        fetch_timeout: Duration::from_secs(2),
        cooldown: Duration::from_secs(30),
        max_retry_delay: Duration::from_millis(500),
        ..KeyStoreSettings::default()
    }
}

/// A running API with its own database and identity provider.
pub struct TestApp {
    pub address: String,
    /// The metrics listener's address, when the test has one.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub idp: TestIdp,
    pub key: TestKey,
    pub db: TestDatabase,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// Changes a test's configuration before the server starts.
pub type Configure = Box<dyn FnOnce(&mut Config, &TestIdp)>;

/// Makes the `DATABASE_URL` for a test database.
pub type DatabaseUrlFor = Box<dyn FnOnce(&TestDatabase) -> String>;

/// Options for [`spawn_app_with`].
pub struct Setup {
    pub keys: Vec<TestKey>,
    pub configure: Configure,
    pub key_settings: KeyStoreSettings,
    /// Route the database through this URL instead of the direct one.
    pub database_url: Option<DatabaseUrlFor>,
    /// A database the test prepared; a fresh one otherwise.
    pub database: Option<TestDatabase>,
    pub wait_ready: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            keys: vec![TestKey::rsa()],
            configure: Box::new(|_, _| {}),
            key_settings: test_key_settings(),
            database_url: None,
            database: None,
            wait_ready: true,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Setup::default()).await
}

pub async fn spawn_app_with(setup: Setup) -> TestApp {
    quotes_api::telemetry::init_for_tests();
    let db = match setup.database {
        Some(db) => db,
        None => TestDatabase::create().await,
    };
    let key_refs: Vec<&TestKey> = setup.keys.iter().collect();
    let idp = TestIdp::start(&key_refs);
    let database_url = match setup.database_url {
        Some(make) => make(&db),
        None => db.url(),
    };
    let mut config = test_config(&database_url, &idp.issuer);
    (setup.configure)(&mut config, &idp);
    let app = quotes_api::Application::build_with(config, setup.key_settings)
        .await
        .expect("the test server starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let handle = app.handle();
    tokio::spawn(app.run());
    let test_app = TestApp {
        address,
        metrics_address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        idp,
        key: setup.keys[0].clone(),
        db,
        handle,
    };
    if setup.wait_ready {
        test_app.wait_until_ready().await;
    }
    test_app
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The body of `GET path`, whatever the status.
    pub async fn get_text(&self, path: &str) -> String {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// What the metrics listener serves at `/metrics`.
    pub async fn metrics_text(&self) -> String {
        let address = self.metrics_address.as_ref().expect("a metrics listener");
        let response = self
            .client
            .get(format!("{address}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// A valid token for `user`.
    pub fn token(&self, user: &str) -> String {
        self.key.sign(&self.idp.claims(user))
    }

    pub async fn wait_until_ready(&self) {
        let ready = self
            .wait_for_status("/readyz", 200, Duration::from_secs(15))
            .await;
        assert!(ready, "the API did not become ready");
    }

    /// Polls `path` until it answers `status`; false on timeout.
    pub async fn wait_for_status(&self, path: &str, status: u16, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Ok(response) = self.client.get(self.url(path)).send().await
                && response.status().as_u16() == status
            {
                return true;
            }
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn get_quote(&self, token: &str) -> reqwest::Response {
        self.client
            .get(self.url("/me/quote"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn put_quote(&self, token: &str, quote: &str) -> reqwest::Response {
        self.client
            .put(self.url("/me/quote"))
            .bearer_auth(token)
            .json(&json!({ "quote": quote }))
            .send()
            .await
            .unwrap()
    }

    pub async fn put_raw(
        &self,
        token: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .put(self.url("/me/quote"))
            .bearer_auth(token)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send().await.unwrap()
    }

    pub async fn delete_quote(&self, token: &str) -> reqwest::Response {
        self.client
            .delete(self.url("/me/quote"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

/// Asserts `response` is an RFC 9457 problem with `status`; returns it.
pub async fn assert_problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let body: Value = response.json().await.unwrap();
    for field in ["type", "title", "detail"] {
        assert!(body[field].is_string(), "problem has no {field}: {body}");
    }
    assert_eq!(body["status"], status);
    body
}

/// A TCP proxy to Postgres that the test can cut and restore, standing in
/// for a database that goes away.
pub struct FlakyProxy {
    pub addr: SocketAddr,
    up: Arc<std::sync::atomic::AtomicBool>,
    /// Added to every answer from the database, to make queries slow.
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl FlakyProxy {
    /// For [`Setup::database_url`]: the test database, reached through
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
