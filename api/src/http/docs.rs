//! The API's description for people and tools: `/openapi.json` and Swagger
//! UI at `/docs/`, served from files built into the binary (no CDN).

use actix_web::{HttpResponse, web};
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Registers `/openapi.json`, `/docs/` and a redirect from `/docs`.
pub fn routes(document: OpenApi) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header(("location", "/docs/"))
                    .finish()
            }),
        )
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .url("/openapi.json", document)
                .config(
                    Config::default()
                        // Swagger UI would otherwise send the document to an
                        // online validator.
                        .validator_url("none")
                        // A pasted token stays in the page's memory only:
                        // localStorage would outlive the tab and be readable
                        // by any script of this origin.
                        .persist_authorization(false)
                        .try_it_out_enabled(true),
                ),
        );
    }
}
