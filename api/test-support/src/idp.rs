//! A test identity provider: signing keys, signed tokens, and a real JWKS
//! server on loopback whose keys and behaviour the test controls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpResponse, HttpServer, web};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// A signing key of the test identity provider.
#[derive(Clone)]
#[expect(missing_debug_implementations, reason = "holds a private key")]
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
        let path = format!(
            "{}/../tests/api/keys/{file}.pem",
            env!("CARGO_MANIFEST_DIR")
        );
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
#[expect(missing_debug_implementations, reason = "a test fixture")]
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

    /// Claims of a token for `sub` granting both of the API's scopes,
    /// valid for a minute.
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
            "scope": "quotes:read quotes:write",
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
