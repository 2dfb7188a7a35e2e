//! The OpenAPI description. Paths come from the same route list the server
//! runs ([`crate::routes`]), so a route cannot exist without its
//! description; this module adds what the routes cannot say: the title,
//! how to get a token, the security scheme and the shared schemas.

use actix_web::App;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{LicenseBuilder, OpenApi as Document};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::error::Problem;

/// How to call the API, shown at the top of Swagger UI.
const DESCRIPTION: &str = "\
Each signed-in user keeps one favourite quote.

Every `/me` operation needs `Authorization: Bearer <token>`, a JWT from the \
identity provider this deployment trusts; the caller is the token's `sub`.

- **Clerk**: in the browser, `await Clerk.session.getToken()` (tokens live 60 s).
- **Any OpenID Connect provider**: an access token for this API's audience.
- **The development provider** (`quotes-api --dev-idp`, local only): \
`quotes-api dev-token alice` prints one; or sign in at `/dev-idp/authorize`.

In Swagger UI, press **Authorize** and paste the token.

Every error is `application/problem+json` (RFC 9457) with `type`, `title`, \
`status` and `detail`.";

#[derive(OpenApi)]
#[openapi(
    info(title = "quotes API", description = DESCRIPTION),
    modifiers(&Finish),
    components(schemas(Problem)),
    tags(
        (name = "quotes", description = "The caller's favourite quote."),
        (name = "webhooks", description = "Events from the identity provider."),
        (name = "operations", description = "Health and readiness for orchestrators."),
    )
)]
struct ApiDoc;

/// Adds the bearer scheme and the license's SPDX identifier.
struct Finish;

impl Modify for Finish {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT from the trusted identity provider (Clerk session token, \
                         OpenID Connect access token, or `quotes-api dev-token USER`).",
                    ))
                    .build(),
            ),
        );
        let license = env!("CARGO_PKG_LICENSE");
        openapi.info.license = Some(
            LicenseBuilder::new()
                .name(license)
                .identifier(Some(license))
                .build(),
        );
    }
}

/// The whole document, as `quotes-api openapi` prints it and
/// `/openapi.json` serves it.
pub fn document() -> Document {
    let (_, mut paths) = App::new()
        .into_utoipa_app()
        .configure(crate::routes)
        .split_for_parts();
    let mut document = ApiDoc::openapi();
    document.merge(std::mem::take(&mut paths));
    document
}

/// The document as YAML, exactly as committed in `openapi.yaml`.
pub fn yaml() -> Result<String, String> {
    document().to_yaml().map_err(|e| e.to_string())
}
