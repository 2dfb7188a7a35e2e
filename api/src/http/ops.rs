//! Operations endpoints: liveness and readiness for orchestrators and load
//! balancers.

use std::time::{Duration, Instant};

use actix_web::body::BoxBody;
use actix_web::{HttpRequest, HttpResponse, Responder, get, web};
use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};

use super::error::{PROBLEM_JSON, Problem, ProblemType};
use quotes_core::auth::Verifier;
use quotes_core::db::Database;

/// The process is up.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

/// `GET /healthz`: the process runs.
#[derive(Debug, IntoResponses)]
#[response(status = 200, description = "The process runs.")]
pub struct Alive(Health);

impl Responder for Alive {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        HttpResponse::Ok().json(self.0)
    }
}

/// Liveness
///
/// `200` while the process runs; says nothing about its dependencies.
#[utoipa::path(tag = "operations", operation_id = "healthz", responses(Alive))]
#[get("/healthz")]
pub async fn healthz() -> Alive {
    Alive(Health { status: "ok" })
}

/// How old the database check behind `/readyz` may be.
pub const READINESS_MAX_AGE: Duration = Duration::from_secs(1);

/// The database check behind `/readyz`, shared by every worker. Probes get
/// its last result while it is fresh, and wait for the one check under way
/// otherwise, so a flood of probes costs one connection a second at most
/// and takes none from requests.
#[derive(Debug, Default)]
pub struct Readiness {
    last: tokio::sync::Mutex<Option<(Instant, bool)>>,
    /// Set on SIGTERM: the server still serves, but asks for no new traffic.
    draining: std::sync::atomic::AtomicBool,
}

impl Readiness {
    /// From now on `/readyz` answers `503`, so load balancers and
    /// Kubernetes send new requests elsewhere while this server finishes.
    pub fn start_draining(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether the server is shutting down.
    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether the database answers and the schema is migrated, as checked
    /// at most [`READINESS_MAX_AGE`] ago.
    pub async fn database_ok(&self, db: &Database) -> bool {
        let mut last = self.last.lock().await;
        if let Some((checked_at, ok)) = *last
            && checked_at.elapsed() < READINESS_MAX_AGE
        {
            return ok;
        }
        let ok = db.is_migrated() && db.ping().await;
        *last = Some((Instant::now(), ok));
        ok
    }
}

/// State of one dependency.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    Unavailable,
}

impl From<bool> for CheckStatus {
    fn from(ok: bool) -> Self {
        if ok { Self::Ok } else { Self::Unavailable }
    }
}

/// What readiness depends on.
#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    /// The database answers and the schema is migrated.
    database: CheckStatus,
    /// The identity provider's signing keys are loaded.
    signing_keys: CheckStatus,
}

/// Ready to serve.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    #[schema(example = "ready")]
    status: &'static str,
    checks: Checks,
}

/// Not ready: a problem, with the checks that failed.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotReady {
    #[serde(flatten)]
    problem: Problem,
    checks: Checks,
}

/// What `GET /readyz` answers.
#[derive(Debug, IntoResponses)]
pub enum ReadinessAnswer {
    #[response(status = 200, description = "Ready.")]
    Ready(Ready),
    #[response(
        status = 503,
        description = "Not ready; see `checks`.",
        content_type = "application/problem+json"
    )]
    NotReady(NotReady),
}

impl Responder for ReadinessAnswer {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        match self {
            Self::Ready(ready) => HttpResponse::Ok().json(ready),
            Self::NotReady(not_ready) => HttpResponse::ServiceUnavailable()
                .content_type(PROBLEM_JSON)
                .insert_header((actix_web::http::header::RETRY_AFTER, "1"))
                .json(not_ready),
        }
    }
}

/// Readiness
///
/// `200` when the database answers, the schema is migrated and the signing
/// keys are loaded; otherwise `503` with the checks that failed, and `503`
/// from the moment the server is told to stop (it keeps serving for
/// `SHUTDOWN_DRAIN_SECS`, so that balancers can move traffic away first). Load
/// balancers route traffic by it. The database check is at most a second
/// old, so probes never compete with requests for connections.
#[utoipa::path(
    tag = "operations",
    operation_id = "readyz",
    responses(ReadinessAnswer)
)]
#[get("/readyz")]
pub async fn readyz(
    db: web::Data<Database>,
    verifier: web::Data<Verifier>,
    readiness: web::Data<Readiness>,
) -> ReadinessAnswer {
    let draining = readiness.is_draining();
    let database_ok = readiness.database_ok(&db).await;
    let keys_ok = verifier.keys().is_loaded();
    let checks = Checks {
        database: database_ok.into(),
        signing_keys: keys_ok.into(),
    };
    if database_ok && keys_ok && !draining {
        return ReadinessAnswer::Ready(Ready {
            status: "ready",
            checks,
        });
    }
    ReadinessAnswer::NotReady(NotReady {
        problem: Problem {
            kind: ProblemType::Unavailable.uri(),
            title: "Service Unavailable",
            status: 503,
            detail: if draining {
                "Shutting down: finishing the requests in flight; send new ones elsewhere."
                    .to_owned()
            } else {
                "Not ready to serve requests; see checks.".to_owned()
            },
            missing_scopes: None,
        },
        checks,
    })
}
