//! Operations endpoints: liveness and readiness for orchestrators and load
//! balancers.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::auth::Verifier;
use crate::db::Database;
use crate::error::{PROBLEM_JSON, Problem};

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

#[derive(Debug, Serialize)]
struct Ready {
    status: &'static str,
    checks: Checks,
}

#[derive(Debug, Serialize)]
struct NotReady {
    #[serde(flatten)]
    problem: Problem,
    checks: Checks,
}

#[derive(Debug, Serialize)]
struct Checks {
    database: &'static str,
    signing_keys: &'static str,
}

/// `GET /readyz`: the database answers, the schema is migrated and the
/// signing keys are loaded; otherwise 503 with the failing checks.
pub async fn readyz(db: web::Data<Database>, verifier: web::Data<Verifier>) -> HttpResponse {
    let database_ok = db.is_migrated() && db.ping().await;
    let keys_ok = verifier.keys().is_loaded();
    let checks = Checks {
        database: if database_ok { "ok" } else { "unavailable" },
        signing_keys: if keys_ok { "ok" } else { "unavailable" },
    };
    if database_ok && keys_ok {
        return HttpResponse::Ok().json(Ready {
            status: "ready",
            checks,
        });
    }
    HttpResponse::ServiceUnavailable()
        .content_type(PROBLEM_JSON)
        .json(NotReady {
            problem: Problem {
                kind: "urn:quotes:problem:unavailable",
                title: "Service Unavailable",
                status: 503,
                detail: "Not ready to serve requests; see checks.".to_owned(),
            },
            checks,
        })
}
