//! Where the provider's endpoints are, and what guards them.

use actix_cors::Cors;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::endpoints;
use super::provider::DevIdp;
use super::settings::PATH;

/// Largest form the provider reads, in bytes: its forms are a few fields.
const MAX_FORM_BYTES: usize = 16 * 1024;

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
                    .limit(MAX_FORM_BYTES)
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
                            .limit(MAX_FORM_BYTES)
                            .error_handler(endpoints::malformed_token_request),
                    )
                    .route(web::post().to(endpoints::token))
                    .default_service(method_not_allowed("POST"))
                    .wrap(any_origin("POST")),
            )
            .service(
                web::resource("/device_authorization")
                    .app_data(
                        web::FormConfig::default()
                            .limit(MAX_FORM_BYTES)
                            .error_handler(endpoints::malformed_token_request),
                    )
                    .route(web::post().to(endpoints::device_authorization))
                    .default_service(method_not_allowed("POST"))
                    .wrap(any_origin("POST")),
            )
            .service(
                web::resource("/device")
                    .route(web::get().to(endpoints::device_page))
                    .route(web::post().to(endpoints::device_answer))
                    .default_service(method_not_allowed("GET, HEAD, POST")),
            )
            .service(
                web::resource("/introspect")
                    .app_data(
                        web::FormConfig::default()
                            .limit(MAX_FORM_BYTES)
                            .error_handler(endpoints::malformed_token_request),
                    )
                    .route(web::post().to(endpoints::introspect))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/revoke")
                    .app_data(
                        web::FormConfig::default()
                            .limit(MAX_FORM_BYTES)
                            .error_handler(endpoints::malformed_token_request),
                    )
                    .route(web::post().to(endpoints::revoke))
                    .default_service(method_not_allowed("POST")),
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
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Some(idp) = req.app_data::<web::Data<DevIdp>>() {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if !idp.answers_to(host) {
            let port = idp.port();
            let refused = problem(
                StatusCode::MISDIRECTED_REQUEST,
                &format!(
                    "This resource answers only to localhost:{port}, 127.0.0.1:{port} or [::1]:{port}."
                ),
            );
            return Ok(req.into_response(refused).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// The answer to a method a resource does not support: `405` with `Allow`.
fn method_not_allowed(allow: &'static str) -> actix_web::Route {
    web::to(move || async move {
        let mut response = problem(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("This resource supports {allow}."),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static(allow));
        response
    })
}

/// An RFC 9457 problem, as the API answers plain HTTP errors: the
/// provider's refusals that concern no person and no OAuth client.
fn problem(status: StatusCode, detail: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/problem+json")
        .json(json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
        }))
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
