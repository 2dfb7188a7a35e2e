//! `/.well-known/oauth-protected-resource`: RFC 9728's metadata, which
//! tells a client (a CLI, a partner's server, an agent) which
//! authorization server issues tokens for this API, which scopes to ask
//! for and how to send the token. Every `401` and `403` names it.

use actix_web::body::BoxBody;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, Responder, get, web};
use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};

use quotes_core::auth::Scope;

/// Where the metadata is, under the resource's origin.
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// How long clients and caches may keep the document, when the resource
/// is configured (it changes only with a deployment's settings).
const MAX_AGE_SECS: u32 = 3600;

/// What the metadata is made of: the settings, once.
#[derive(Debug, Clone)]
pub struct ResourceSettings {
    /// The API's canonical URL (`AUTH_RESOURCE`); when unset, the origin
    /// a request was sent to.
    pub resource: Option<String>,
    /// The issuer of the tokens this API accepts.
    pub authorization_server: String,
}

/// RFC 9728 protected-resource metadata.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "resource": "https://api.example.com",
    "authorization_servers": ["https://clerk.example.com"],
    "scopes_supported": ["quotes:read", "quotes:write"],
    "bearer_methods_supported": ["header"],
    "resource_name": "quotes API",
    "resource_documentation": "https://api.example.com/docs/"
}))]
pub struct ProtectedResourceMetadata {
    /// This API's identifier: the `resource` to ask tokens for (RFC 8707),
    /// and the audience tokens that bind one must carry.
    resource: String,
    /// The issuers whose tokens this API accepts; each publishes its OAuth
    /// or OpenID metadata under its own address.
    authorization_servers: Vec<String>,
    /// Every scope an operation of this API needs.
    scopes_supported: Vec<&'static str>,
    /// The token travels in the `Authorization` header only.
    bearer_methods_supported: Vec<&'static str>,
    resource_name: &'static str,
    /// Swagger UI, where each operation lists the scopes it needs.
    resource_documentation: String,
}

/// `GET /.well-known/oauth-protected-resource`: the metadata.
#[derive(Debug, IntoResponses)]
#[response(
    status = 200,
    description = "The metadata. Any origin may read it; it may be cached.",
    headers(
        ("Access-Control-Allow-Origin" = String, description = "`*`"),
        ("Cache-Control" = String, description = "How long it may be kept")
    )
)]
pub struct Metadata(ProtectedResourceMetadata, bool);

impl Responder for Metadata {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        let cache = if self.1 {
            format!("public, max-age={MAX_AGE_SECS}")
        } else {
            // Made from the request's own address, which differs by
            // request: no shared cache keeps it.
            format!("private, max-age={MAX_AGE_SECS}")
        };
        HttpResponse::Ok()
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .insert_header((header::CACHE_CONTROL, cache))
            .json(self.0)
    }
}

/// Protected-resource metadata (RFC 9728)
///
/// Which authorization server issues tokens for this API, which scopes its
/// operations need, and how to send a token. Every `401` and `403` names
/// this address in `WWW-Authenticate` (`resource_metadata`).
#[utoipa::path(
    tag = "discovery",
    operation_id = "protected_resource_metadata",
    responses(Metadata)
)]
#[get("/.well-known/oauth-protected-resource")]
pub async fn protected_resource(
    req: HttpRequest,
    settings: web::Data<ResourceSettings>,
) -> Metadata {
    let configured = settings.resource.is_some();
    let resource = settings.resource.clone().unwrap_or_else(|| origin_of(&req));
    let base = resource.trim_end_matches('/');
    Metadata(
        ProtectedResourceMetadata {
            resource_documentation: format!("{base}/docs/"),
            resource: resource.clone(),
            authorization_servers: vec![settings.authorization_server.clone()],
            scopes_supported: Scope::ALL.iter().map(|scope| scope.as_str()).collect(),
            bearer_methods_supported: vec!["header"],
            resource_name: "quotes API",
        },
        configured,
    )
}

/// The origin `req` was sent to, as the client wrote it.
pub fn origin_of(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}
