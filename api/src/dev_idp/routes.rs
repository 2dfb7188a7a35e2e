//! Where the provider's endpoints are, and what guards them.

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{Next, from_fn};
use actix_web::web;

use super::endpoints;
use super::provider::DevIdp;
use super::settings::PATH;
use crate::http::MAX_BODY_BYTES;
use crate::http::error::{ApiError, method_not_allowed};

/// The provider's routes, under [`PATH`]. They sit outside the API's CORS
/// policy: a single-page app on any loopback port must be able to read the
/// public documents and call the token endpoint.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(PATH)
            .wrap(from_fn(loopback_host_only))
            .app_data(web::QueryConfig::default().error_handler(endpoints::malformed_query))
            .app_data(
                web::FormConfig::default()
                    .limit(MAX_BODY_BYTES)
                    .error_handler(endpoints::malformed_form),
            )
            .service(
                web::resource("/.well-known/openid-configuration")
                    .route(web::get().to(endpoints::discovery))
                    .default_service(method_not_allowed("GET, HEAD"))
                    .wrap(any_origin("GET")),
            )
            .service(
                web::resource("/jwks.json")
                    .route(web::get().to(endpoints::jwks))
                    .default_service(method_not_allowed("GET, HEAD"))
                    .wrap(any_origin("GET")),
            )
            .service(
                web::resource("/authorize")
                    .route(web::get().to(endpoints::authorize_page))
                    .route(web::post().to(endpoints::sign_in))
                    .default_service(method_not_allowed("GET, HEAD, POST")),
            )
            .service(
                web::resource("/token")
                    .app_data(
                        web::FormConfig::default()
                            .limit(MAX_BODY_BYTES)
                            .error_handler(endpoints::malformed_token_request),
                    )
                    .route(web::post().to(endpoints::token))
                    .default_service(method_not_allowed("POST"))
                    .wrap(any_origin("POST")),
            )
            .service(
                web::resource("/logout")
                    .route(web::get().to(endpoints::logout))
                    .route(web::post().to(endpoints::confirm_logout))
                    .default_service(method_not_allowed("GET, HEAD, POST")),
            ),
    );
}

/// Refuses requests whose `Host` is not a loopback name with our port
/// (421), before anything else of the provider runs.
async fn loopback_host_only(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(idp) = req.app_data::<web::Data<DevIdp>>() {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if !idp.answers_to(host) {
            let port = idp.port();
            return Err(ApiError::MisdirectedRequest {
                answers_to: format!("localhost:{port}, 127.0.0.1:{port} or [::1]:{port}"),
            }
            .into());
        }
    }
    next.call(req).await
}

/// CORS for a public resource: any origin, no credentials (the token
/// endpoint authenticates with the code and its verifier, not cookies).
fn any_origin(method: &'static str) -> Cors {
    Cors::default()
        .allow_any_origin()
        .allowed_methods([method])
        .allowed_header(header::CONTENT_TYPE)
        .max_age(3600)
}
