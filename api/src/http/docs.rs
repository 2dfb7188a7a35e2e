//! The API's description for people and tools: `/openapi.json` and Swagger
//! UI at `/docs/`, served from files built into the binary (no CDN).

use actix_web::{HttpResponse, web};
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi, oauth};

use quotes_core::auth::Scope;

/// How Swagger UI's **Authorize** signs in: as `client_id`, a public
/// client, with authorization code and PKCE, asking for every scope of
/// `resource` (RFC 8707).
#[derive(Debug, Clone)]
pub struct DocsSignIn {
    pub client_id: String,
    pub resource: Option<String>,
}

/// Registers `/openapi.json`, `/docs/` and a redirect from `/docs`.
pub fn routes(
    document: OpenApi,
    sign_in: Option<DocsSignIn>,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header(("location", "/docs/"))
                    .finish()
            }),
        )
        .service({
            let ui = SwaggerUi::new("/docs/{_:.*}")
                .url("/openapi.json", document)
                .config(
                    Config::default()
                        // Swagger UI would otherwise send the document to an
                        // online validator.
                        .validator_url("none")
                        // A token stays in the page's memory only:
                        // localStorage would outlive the tab and be readable
                        // by any script of this origin.
                        .persist_authorization(false)
                        .try_it_out_enabled(true),
                );
            // After `config`, which would replace it.
            match sign_in {
                Some(sign_in) => ui.oauth(oauth_config(&sign_in)),
                None => ui,
            }
        });
    }
}

fn oauth_config(sign_in: &DocsSignIn) -> oauth::Config {
    let mut config = oauth::Config::new()
        .client_id(&sign_in.client_id)
        .app_name("quotes API docs")
        .scopes(
            Scope::ALL
                .iter()
                .map(|scope| scope.as_str().to_owned())
                .collect(),
        )
        .use_pkce_with_authorization_code_grant(true);
    if let Some(resource) = &sign_in.resource {
        config = config.additional_query_string_params(std::collections::HashMap::from([(
            "resource".to_owned(),
            resource.clone(),
        )]));
    }
    config
}
