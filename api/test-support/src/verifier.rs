//! Loopback stand-ins of the services that read opaque tokens for the API:
//! Clerk's Backend API (`/v1/oauth_applications/access_tokens/verify`,
//! `/v1/api_keys/verify`) and an RFC 7662 introspection endpoint
//! (`/introspect`). The test says what each token is, and how the service
//! behaves: up, down, stuck, or answering garbage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

/// How the stand-in answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// As the real service: the token's answer, or "unknown".
    Serve,
    /// `500`.
    Failing,
    /// Never answers (until the mode changes and the test's server stops).
    Stuck,
    /// `200` with a body that is not the service's answer.
    Garbage,
}

/// The secret Clerk's stand-in expects, and the introspection client's.
pub const SECRET_KEY: &str = "sk_test_standin";
pub const INTROSPECTION_CLIENT: (&str, &str) = ("quotes-api", "introspection-secret");

#[derive(Debug)]
struct State {
    answers: HashMap<String, Value>,
    behaviour: Behaviour,
}

/// A stand-in on a port of its own.
#[expect(missing_debug_implementations, reason = "a test fixture")]
pub struct VerifierStandIn {
    /// Its base URL (`CLERK_API_URL`); introspection is at `/introspect`.
    pub url: String,
    state: Arc<Mutex<State>>,
    calls: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

type Shared = web::Data<(Arc<Mutex<State>>, Arc<AtomicUsize>)>;

impl VerifierStandIn {
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            answers: HashMap::new(),
            behaviour: Behaviour::Serve,
        }));
        let calls = Arc::new(AtomicUsize::new(0));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let data: Shared = web::Data::new((state.clone(), calls.clone()));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(
                    "/v1/oauth_applications/access_tokens/verify",
                    web::post().to(clerk_oauth),
                )
                .route("/v1/api_keys/verify", web::post().to(clerk_api_key))
                .route("/introspect", web::post().to(introspect))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url,
            state,
            calls,
            handle,
        }
    }

    /// What the service says of `token`: for Clerk, the token object; for
    /// introspection, the whole answer (with `active`).
    pub fn answer(&self, token: &str, answer: Value) {
        self.state
            .lock()
            .unwrap()
            .answers
            .insert(token.to_owned(), answer);
    }

    pub fn behave(&self, behaviour: Behaviour) {
        self.state.lock().unwrap().behaviour = behaviour;
    }

    /// Requests the service has had.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Stops answering: connections are refused from now on.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

impl Drop for VerifierStandIn {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// The answer the behaviour makes, or `None` to serve the token's.
async fn misbehave(data: &Shared) -> Option<HttpResponse> {
    data.1.fetch_add(1, Ordering::SeqCst);
    let behaviour = data.0.lock().unwrap().behaviour;
    match behaviour {
        Behaviour::Serve => None,
        Behaviour::Failing => Some(HttpResponse::InternalServerError().finish()),
        Behaviour::Stuck => {
            std::future::pending::<()>().await;
            None
        }
        Behaviour::Garbage => Some(
            HttpResponse::Ok()
                .content_type("application/json")
                .body(r#"{"object":"something else","subject":17}"#),
        ),
    }
}

fn bearer_is_the_secret(req: &HttpRequest) -> bool {
    req.headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        == Some(&format!("Bearer {SECRET_KEY}"))
}

async fn clerk_lookup(req: &HttpRequest, data: &Shared, token: Option<&str>) -> HttpResponse {
    if let Some(answer) = misbehave(data).await {
        return answer;
    }
    if !bearer_is_the_secret(req) {
        return HttpResponse::Unauthorized()
            .json(json!({"errors": [{"code": "authentication_invalid"}]}));
    }
    let answer = token.and_then(|token| data.0.lock().unwrap().answers.get(token).cloned());
    match answer {
        Some(answer) => HttpResponse::Ok().json(answer),
        None => HttpResponse::NotFound().json(json!({"errors": [{"code": "resource_not_found"}]})),
    }
}

async fn clerk_oauth(req: HttpRequest, data: Shared, body: web::Json<Value>) -> HttpResponse {
    clerk_lookup(&req, &data, body["access_token"].as_str()).await
}

async fn clerk_api_key(req: HttpRequest, data: Shared, body: web::Json<Value>) -> HttpResponse {
    clerk_lookup(&req, &data, body["secret"].as_str()).await
}

async fn introspect(
    req: HttpRequest,
    data: Shared,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    if let Some(answer) = misbehave(&data).await {
        return answer;
    }
    let (client, secret) = INTROSPECTION_CLIENT;
    let expected = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{client}:{secret}")
        )
    );
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        == Some(expected.as_str());
    if !authorized {
        return HttpResponse::Unauthorized().finish();
    }
    let answer = form
        .get("token")
        .and_then(|token| data.0.lock().unwrap().answers.get(token).cloned());
    HttpResponse::Ok().json(answer.unwrap_or_else(|| json!({"active": false})))
}
