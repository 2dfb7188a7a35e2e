//! The OpenAPI description. Paths come from the same route list the server
//! runs ([`crate::routes`]), so a route cannot exist without its
//! description; this module adds what the routes cannot say: the title,
//! how to get a token, the security scheme and the shared schemas.

use actix_web::App;
use utoipa::openapi::security::{
    AuthorizationCode, Flow, HttpAuthScheme, HttpBuilder, OAuth2, OpenIdConnect, Scopes,
    SecurityScheme,
};
use utoipa::openapi::{LicenseBuilder, OpenApi as Document};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use serde_json::{Value, json};

use crate::http::error::{Problem, ProblemType};
use crate::http::ops::{Health, NotReady, Ready};
use crate::http::quotes::Quote;
use crate::http::rate_limit::UNLIMITED;
use crate::http::resource::ProtectedResourceMetadata;
use quotes_core::auth::Scope;

/// How to call the API, shown at the top of Swagger UI.
const DESCRIPTION: &str = "\
Each signed-in user keeps one favourite quote.

Every `/me` operation needs `Authorization: Bearer <token>`, a token from the \
identity provider this deployment trusts, that speaks for a user (the caller \
is its `sub`) and holds the operation's scope: `quotes:read` to read, \
`quotes:write` to replace or delete (write does not imply read). A token \
without the scope gets `403` with `error=\"insufficient_scope\"`.

- **Clerk**: in the browser, `await Clerk.session.getToken()` (a first-party \
session: every scope); third-party clients use Clerk's OAuth applications or \
API keys where the deployment accepts them.
- **Any OpenID Connect provider**: an access token for this API (its \
`resource`), with the scopes it needs.
- **The development provider** (a build with the `dev-idp` feature, run with \
`--dev-idp`, local only): `quotes-api dev-token alice` prints one \
(`--scope quotes:read` for less); or sign in at `/dev-idp/authorize`.

A client finds the provider and the scopes in the protected-resource \
metadata (RFC 9728) at `/.well-known/oauth-protected-resource`, which every \
`401` and `403` names. In Swagger UI, press **Authorize** to sign in (or \
paste a token).

Every error is `application/problem+json` (RFC 9457) with `type`, `title`, \
`status` and `detail`; each response below names its problem types. Every \
response carries `X-Request-Id`, the caller's own when it sent a plain one \
(up to 128 letters, digits, `-`, `_`, `.`, `:`). `HEAD` is answered wherever \
`GET` is.

Each caller has a rate: the verified user on `/me` paths, the client address \
elsewhere (`/healthz` and `/readyz` are never limited). Responses carry \
`RateLimit-Policy` and `RateLimit` (IETF draft \
`draft-ietf-httpapi-ratelimit-headers`); over the rate a request gets `429` \
with `Retry-After`.";

#[derive(OpenApi)]
#[openapi(
    info(title = "quotes API", description = DESCRIPTION),
    servers((url = "/", description = "The server this document is served from")),
    modifiers(&Finish),
    // The bodies of the operations' response types, which name them but do
    // not register them; each brings the schemas it is made of.
    components(schemas(Problem, Quote, Health, Ready, NotReady, ProtectedResourceMetadata)),
    tags(
        (name = "quotes", description = "The caller's favourite quote."),
        (name = "discovery", description = "How a client learns to get a token for this API."),
        (name = "webhooks", description = "Events from the identity provider."),
        (name = "operations", description = "Health and readiness for orchestrators."),
    )
)]
struct ApiDoc;

/// Where the committed description says tokens come from: no deployment's
/// provider. A running API serves its own (see [`served_document`]).
const PLACEHOLDER_AUTHORIZATION_URL: &str = "https://identity-provider.example/authorize";
const PLACEHOLDER_TOKEN_URL: &str = "https://identity-provider.example/token";

/// Adds the security schemes and the license's SPDX identifier.
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
        .configure(crate::routes::configure)
        .split_for_parts();
    let mut document = ApiDoc::openapi();
    document.merge(std::mem::take(&mut paths));
    let Ok(mut value) = serde_json::to_value(&document) else {
        return document;
    };
    complete(&mut value);
    for endpoint in crate::routes::endpoints() {
        let method = endpoint.method.as_str().to_ascii_lowercase();
        if !endpoint.described {
            if let Some(paths) = value["paths"].as_object_mut() {
                paths.remove(&endpoint.path);
            }
            continue;
        }
        if endpoint.signed_in {
            let scopes: Vec<&str> = endpoint.scopes.iter().map(Scope::as_str).collect();
            value["paths"][&endpoint.path][&method]["security"] =
                json!([{"oauth2": scopes}, {"bearer": scopes}]);
        }
    }
    let mut document: Document = serde_json::from_value(value).unwrap_or(document);
    // Added after the round trip through JSON, in which utoipa's untagged
    // flows would read an authorization-code flow as an implicit one.
    set_oauth2(
        &mut document,
        oauth2(
            PLACEHOLDER_AUTHORIZATION_URL,
            PLACEHOLDER_TOKEN_URL,
            "Authorization code with PKCE at the identity provider this deployment \
             trusts. These URLs are placeholders: the description a running API \
             serves at `/openapi.json` names its provider's.",
        ),
    );
    document
}

/// Every scope, as the OAuth flow lists them.
fn oauth2(authorization_url: &str, token_url: &str, description: &str) -> SecurityScheme {
    SecurityScheme::OAuth2(OAuth2::with_description(
        [Flow::AuthorizationCode(AuthorizationCode::new(
            authorization_url,
            token_url,
            Scope::ALL
                .iter()
                .map(|scope| (scope.as_str(), scope.description()))
                .collect::<Scopes>(),
        ))],
        description,
    ))
}

fn set_oauth2(document: &mut Document, scheme: SecurityScheme) {
    document
        .components
        .get_or_insert_with(Default::default)
        .add_security_scheme("oauth2", scheme);
}

/// Where the identity provider this deployment trusts signs people in.
#[derive(Debug, Clone)]
pub enum Provider {
    /// Clerk: its OAuth endpoints on the Frontend API.
    Clerk { frontend_api: String },
    /// The development provider at `issuer`.
    Development { issuer: String },
    /// Any OpenID provider: its endpoints are in its discovery document.
    OpenId { issuer: String },
}

/// The description a running API serves: the committed one, with its
/// provider's sign-in in place of the placeholders.
pub fn served_document(provider: &Provider) -> Document {
    const DESCRIPTION: &str =
        "Authorization code with PKCE at this deployment's identity provider.";
    let mut document = document();
    let scheme = match provider {
        Provider::Clerk { frontend_api } => oauth2(
            &format!("{frontend_api}/oauth/authorize"),
            &format!("{frontend_api}/oauth/token"),
            DESCRIPTION,
        ),
        Provider::Development { issuer } => oauth2(
            &format!("{issuer}/authorize"),
            &format!("{issuer}/token"),
            DESCRIPTION,
        ),
        // Its endpoints are wherever its discovery document says: Swagger
        // UI reads it.
        Provider::OpenId { issuer } => {
            let mut scheme = OpenIdConnect::new(format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            ));
            scheme.description = Some(DESCRIPTION.to_owned());
            SecurityScheme::OpenIdConnect(scheme)
        }
    };
    set_oauth2(&mut document, scheme);
    document
}

/// What every operation has in common and the routes cannot say: the
/// request id on every request and response, `Retry-After` on `503`, a
/// `405` with `Allow`, a `429` with the `RateLimit` headers (but on the
/// probes) and a `default` problem, `security: []` on public operations,
/// and an example problem for each error response.
fn complete(document: &mut Value) {
    add_shared_components(document);
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut().filter_map(Value::as_object_mut) {
            complete_operation(path, operation);
        }
    }
}

/// The headers, parameter and responses every operation refers to, and the
/// list of problem types.
fn add_shared_components(document: &mut Value) {
    document["components"]["headers"] = json!({
        "X-Request-Id": {
            "description": "The request's id, as the caller sent it (when plain) or as made by the server; also in the server's log line.",
            "schema": {"type": "string", "maxLength": 128}
        },
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer", "minimum": 0}
        },
        "Allow": {
            "description": "The methods this path supports.",
            "schema": {"type": "string"},
            "example": "GET, HEAD, PUT, DELETE"
        },
        "RateLimit-Policy": {
            "description": "The caller's quota (IETF draft `draft-ietf-httpapi-ratelimit-headers`): `q` requests at once, whole again after `w` seconds. The caller is the verified user on `/me` paths, the client address elsewhere. Absent when the server runs without a rate limit.",
            "schema": {"type": "string"},
            "example": "\"per-caller\";q=100;w=10"
        },
        "RateLimit": {
            "description": "What is left of the caller's quota: `r` more requests at once now, the whole quota back in `t` seconds.",
            "schema": {"type": "string"},
            "example": "\"per-caller\";r=97;t=1"
        }
    });
    document["components"]["parameters"] = json!({
        "X-Request-Id": {
            "name": "X-Request-Id",
            "in": "header",
            "required": false,
            "description": "An id of the caller's choosing for this request, echoed in the response and logged; kept when it has 1 to 128 letters, digits, `-`, `_`, `.` or `:`.",
            // Any value is accepted: one that is not plain is replaced, not refused.
            "schema": {"type": "string"}
        }
    });
    document["components"]["responses"] = json!({
        "MethodNotAllowed": {
            "description": "The path does not support this method; `Allow` lists those it does. Problem type `about:blank`.",
            "headers": {
                "Allow": {"$ref": "#/components/headers/Allow"},
                "X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}
            },
            "content": {"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"},
                "example": problem_example("about:blank", "Method Not Allowed", 405, "This resource supports GET, HEAD, PUT, DELETE.")
            }}
        },
        "TooManyRequests": {
            "description": "The caller (the verified user on `/me` paths, the client address elsewhere) is over its rate; wait `Retry-After` seconds. Problem type `urn:quotes:problem:rate-limited`.",
            "headers": {
                "Retry-After": {"$ref": "#/components/headers/Retry-After"},
                "RateLimit-Policy": {"$ref": "#/components/headers/RateLimit-Policy"},
                "RateLimit": {"$ref": "#/components/headers/RateLimit"},
                "X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}
            },
            "content": {"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"},
                "example": problem_example("urn:quotes:problem:rate-limited", "Too Many Requests", 429, "Too many requests from this caller; try again in 1 s.")
            }}
        },
        "Error": {
            "description": "Any other error (`500` when something went wrong on the server's side). Problem type `about:blank`.",
            "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
            "content": {"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"},
                "example": problem_example("about:blank", "Internal Server Error", 500, "Something went wrong on our side; it has been logged.")
            }}
        }
    });
    let listed: Vec<String> = ProblemType::ALL
        .iter()
        .map(|kind| format!("- `{}`: {}", kind.uri(), kind.meaning()))
        .collect();
    document["components"]["schemas"]["Problem"]["properties"]["type"]["description"] =
        json!(format!(
            "A URI naming the kind of problem; a client can switch on it. One of:\n\n{}",
            listed.join("\n")
        ));
    document["components"]["schemas"]["Problem"]["properties"]["type"]["examples"] = json!(
        ProblemType::ALL
            .iter()
            .map(|kind| kind.uri())
            .collect::<Vec<_>>()
    );
}

fn complete_operation(path: &str, operation: &mut serde_json::Map<String, Value>) {
    if !operation.contains_key("security") {
        operation.insert("security".to_owned(), json!([]));
    }
    let parameters = operation.entry("parameters").or_insert_with(|| json!([]));
    if let Some(parameters) = parameters.as_array_mut() {
        parameters.push(json!({"$ref": "#/components/parameters/X-Request-Id"}));
    }
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (status, response) in responses.iter_mut() {
        complete_response(path, status, response);
    }
    if !UNLIMITED.contains(&path) {
        responses.insert(
            "429".to_owned(),
            json!({"$ref": "#/components/responses/TooManyRequests"}),
        );
    }
    responses.insert(
        "405".to_owned(),
        json!({"$ref": "#/components/responses/MethodNotAllowed"}),
    );
    responses.insert(
        "default".to_owned(),
        json!({"$ref": "#/components/responses/Error"}),
    );
}

fn complete_response(path: &str, status: &str, response: &mut Value) {
    response["headers"]["X-Request-Id"] = json!({"$ref": "#/components/headers/X-Request-Id"});
    if status == "503" {
        response["headers"]["Retry-After"] = json!({"$ref": "#/components/headers/Retry-After"});
    }
    let Some(content) = response
        .get_mut("content")
        .and_then(|content| content.get_mut("application/problem+json"))
    else {
        return;
    };
    if content.get("example").is_some() {
        return;
    }
    let example = match (path, status) {
        ("/readyz", "503") => {
            let mut example = problem_example(
                "urn:quotes:problem:unavailable",
                "Service Unavailable",
                503,
                "Not ready to serve requests; see checks.",
            );
            example["checks"] = json!({"database": "unavailable", "signing_keys": "ok"});
            example
        }
        (_, "401") => problem_example(
            "urn:quotes:problem:expired-token",
            "Unauthorized",
            401,
            "The token has expired.",
        ),
        (_, "403") => {
            let mut example = problem_example(
                "urn:quotes:problem:insufficient-scope",
                "Forbidden",
                403,
                "The token lacks the scope this operation needs: quotes:write. Ask for it when getting the next token.",
            );
            example["missing_scopes"] = json!(["quotes:write"]);
            example
        }
        ("/me/quote", "404") => problem_example(
            "urn:quotes:problem:quote-not-found",
            "No quote",
            404,
            "You have not saved a quote yet.",
        ),
        (_, "404") => problem_example(
            "about:blank",
            "Not Found",
            404,
            "There is nothing at this path.",
        ),
        ("/webhooks/clerk", "400") => problem_example(
            "urn:quotes:problem:invalid-webhook",
            "Invalid webhook",
            400,
            "The delivery was not accepted: no v1 signature in svix-signature matches this delivery.",
        ),
        (_, "400") => problem_example(
            "urn:quotes:problem:malformed-json",
            "Malformed JSON",
            400,
            "The body is not valid JSON: EOF while parsing an object at line 1 column 10.",
        ),
        (_, "413") => problem_example(
            "about:blank",
            "Payload Too Large",
            413,
            "The request body is larger than 16384 bytes.",
        ),
        (_, "415") => problem_example(
            "about:blank",
            "Unsupported Media Type",
            415,
            "The request body must be application/json.",
        ),
        (_, "422") => problem_example(
            "urn:quotes:problem:invalid-quote",
            "Invalid quote",
            422,
            "The quote has 1001 characters; at most 1000 are allowed.",
        ),
        (_, "503") => problem_example(
            "urn:quotes:problem:unavailable",
            "Service Unavailable",
            503,
            "The database is not reachable right now; try again shortly.",
        ),
        _ => return,
    };
    content["example"] = example;
}

fn problem_example(kind: &str, title: &str, status: u16, detail: &str) -> Value {
    json!({"type": kind, "title": title, "status": status, "detail": detail})
}

/// The document as YAML, exactly as committed in `openapi.yaml`.
pub fn yaml() -> Result<String, String> {
    document().to_yaml().map_err(|e| e.to_string())
}
