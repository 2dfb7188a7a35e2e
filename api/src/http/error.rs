//! The one error type at the HTTP edge, rendered as RFC 9457 problem+json.
//!
//! Each variant says what the client may know; causes that only operators
//! should see are logged here and replaced by a generic `detail`.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, ResponseError, error::JsonPayloadError};
use serde::Serialize;

use std::borrow::Cow;
use std::sync::Arc;

use quotes_core::auth::{AuthError, Scopes, TokenKind};
use quotes_core::db::{DatabaseError, DatabaseUnavailable};
use quotes_core::quotes::QuoteError;
use quotes_core::rate_limit::Limited;
use quotes_core::webhooks::WebhookError;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Realm named in `WWW-Authenticate` challenges.
const REALM: &str = "quotes";

/// The problem types: what a client can switch on. The one table of them;
/// the description lists them and docs/api.md's table follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemType {
    MissingToken,
    ExpiredToken,
    InvalidToken,
    InsufficientScope,
    NoUser,
    QuoteNotFound,
    InvalidQuote,
    MalformedJson,
    InvalidWebhook,
    Unavailable,
    RateLimited,
    /// Plain HTTP errors, whose title says it all.
    Blank,
}

impl ProblemType {
    /// Every problem type.
    pub const ALL: [Self; 12] = [
        Self::MissingToken,
        Self::ExpiredToken,
        Self::InvalidToken,
        Self::InsufficientScope,
        Self::NoUser,
        Self::QuoteNotFound,
        Self::InvalidQuote,
        Self::MalformedJson,
        Self::InvalidWebhook,
        Self::Unavailable,
        Self::RateLimited,
        Self::Blank,
    ];

    /// The `type` URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::MissingToken => "urn:quotes:problem:missing-token",
            Self::ExpiredToken => "urn:quotes:problem:expired-token",
            Self::InvalidToken => "urn:quotes:problem:invalid-token",
            Self::InsufficientScope => "urn:quotes:problem:insufficient-scope",
            Self::NoUser => "urn:quotes:problem:no-user",
            Self::QuoteNotFound => "urn:quotes:problem:quote-not-found",
            Self::InvalidQuote => "urn:quotes:problem:invalid-quote",
            Self::MalformedJson => "urn:quotes:problem:malformed-json",
            Self::InvalidWebhook => "urn:quotes:problem:invalid-webhook",
            Self::Unavailable => "urn:quotes:problem:unavailable",
            Self::RateLimited => "urn:quotes:problem:rate-limited",
            Self::Blank => "about:blank",
        }
    }

    /// When it comes, with its status, for the description.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::MissingToken => "401: no bearer token was sent",
            Self::ExpiredToken => "401: the token has expired; get a fresh one and try once more",
            Self::InvalidToken => "401: any other refused token",
            Self::InsufficientScope => {
                "403: the token lacks a scope this operation needs; `missing_scopes` lists them"
            }
            Self::NoUser => {
                "403: the token speaks for a client or an organisation, not a user, and this operation is a user's"
            }
            Self::QuoteNotFound => "404: the caller has no quote",
            Self::InvalidQuote => "422: the quote breaks the rules",
            Self::MalformedJson => "400: the body is not JSON",
            Self::InvalidWebhook => "400: a delivery was refused",
            Self::Unavailable => {
                "503: the database or the signing keys are out of reach; retry after `Retry-After`"
            }
            Self::RateLimited => {
                "429: this caller (user, or client address) is over its rate; retry after `Retry-After`"
            }
            Self::Blank => "any other status: its title says it all",
        }
    }
}

/// The problem type of a refused token.
fn auth_problem_type(error: &AuthError) -> ProblemType {
    match error {
        AuthError::Missing => ProblemType::MissingToken,
        // Of its own, so that a client knows a fresh token will do.
        AuthError::Expired => ProblemType::ExpiredToken,
        AuthError::KeysUnavailable | AuthError::VerifierUnavailable => ProblemType::Unavailable,
        _ => ProblemType::InvalidToken,
    }
}

/// The RFC 6750 `WWW-Authenticate` challenge for a refused token, naming
/// where a client learns how to get one (RFC 9728).
fn challenge(error: &AuthError, metadata: Option<&ResourceMetadata>) -> String {
    let mut challenge = match error {
        AuthError::Missing => format!("Bearer realm=\"{REALM}\""),
        other => format!(
            "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{other}\""
        ),
    };
    add_metadata(&mut challenge, metadata);
    challenge
}

fn add_metadata(challenge: &mut String, metadata: Option<&ResourceMetadata>) {
    if let Some(metadata) = metadata {
        challenge.push_str(", resource_metadata=\"");
        challenge.push_str(&metadata.0);
        challenge.push('"');
    }
}

/// The address of this API's protected-resource metadata (RFC 9728),
/// named in every challenge.
#[derive(Debug, Clone)]
pub struct ResourceMetadata(pub Arc<str>);

/// Why a verified caller may not do what it asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forbidden {
    /// The token lacks these scopes.
    InsufficientScope { missing: Scopes },
    /// The token speaks for no user (a machine, an organisation's key).
    NoUser { kind: TokenKind },
}

impl Forbidden {
    fn problem(&self) -> (ProblemType, &'static str, String) {
        match self {
            Self::InsufficientScope { missing } => (
                ProblemType::InsufficientScope,
                "Forbidden",
                format!(
                    "The token lacks the scope this operation needs: {missing}. Ask for it when getting the next token."
                ),
            ),
            Self::NoUser { kind } => (
                ProblemType::NoUser,
                "Forbidden",
                format!(
                    "The token ({kind}) speaks for a client or an organisation, not a user; `/me` needs a user's token."
                ),
            ),
        }
    }
}

/// An RFC 9457 problem details object: what every error body is.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "type": "urn:quotes:problem:invalid-quote",
    "title": "Invalid quote",
    "status": 422,
    "detail": "The quote has 1001 characters; at most 1000 are allowed."
}))]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` for plain HTTP
    /// errors. (The document lists every value; see `openapi::PROBLEM_TYPES`.)
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Short summary of the kind of problem.
    pub title: &'static str,
    /// The HTTP status code.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What went wrong with this request, for a person to read.
    pub detail: String,
    /// With `urn:quotes:problem:insufficient-scope`: the scopes the token
    /// lacks, to ask for when getting the next one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["quotes:write"]))]
    pub missing_scopes: Option<Vec<&'static str>>,
}

/// The problems every operation that needs a signed-in caller may answer:
/// described once, listed by each such operation.
#[derive(Debug, utoipa::IntoResponses)]
pub enum BearerProblems {
    #[response(
        status = 401,
        description = "No valid bearer token.",
        content_type = "application/problem+json",
        headers(("WWW-Authenticate" = String, description = "RFC 6750 challenge"))
    )]
    Unauthorized(Problem),
    #[response(
        status = 403,
        description = "The token lacks a scope this operation needs (`missing_scopes` lists them), or speaks for no user.",
        content_type = "application/problem+json",
        headers(("WWW-Authenticate" = String, description = "RFC 6750 challenge: `error=\"insufficient_scope\"` and the scopes needed"))
    )]
    Forbidden(Problem),
    #[response(
        status = 503,
        description = "The database or the identity provider's keys are out of reach; retry.",
        content_type = "application/problem+json"
    )]
    Unavailable(Problem),
}

/// The problems of reading a JSON request body: described once, listed by
/// each operation that takes one.
#[derive(Debug, utoipa::IntoResponses)]
pub enum JsonBodyProblems {
    #[response(
        status = 400,
        description = "The body is not valid JSON.",
        content_type = "application/problem+json"
    )]
    MalformedJson(Problem),
    #[response(
        status = 413,
        description = "The body is over 16 KiB.",
        content_type = "application/problem+json"
    )]
    PayloadTooLarge(Problem),
    #[response(
        status = 415,
        description = "The body is not application/json.",
        content_type = "application/problem+json"
    )]
    UnsupportedMediaType(Problem),
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the caller has no quote")]
    QuoteNotFound,
    #[error("invalid quote: {0}")]
    InvalidQuote(#[from] QuoteError),
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("request body too large")]
    PayloadTooLarge { limit: usize },
    #[error("unauthenticated: {error}")]
    Unauthenticated {
        error: AuthError,
        metadata: Option<ResourceMetadata>,
    },
    #[error("forbidden: {refusal:?}")]
    Forbidden {
        refusal: Forbidden,
        /// The scopes the operation needs, for the challenge.
        required: Scopes,
        metadata: Option<ResourceMetadata>,
    },
    #[error("invalid webhook delivery: {0}")]
    InvalidWebhook(#[from] WebhookError),
    #[error("no route for this path")]
    RouteNotFound,
    #[error("the Host header names a host this resource does not answer to")]
    MisdirectedRequest { answers_to: String },
    #[error("the request took too long")]
    RequestTimeout { limit: std::time::Duration },
    #[error("method not allowed")]
    MethodNotAllowed { allow: Cow<'static, str> },
    #[error("rate limited for {} s", .0.retry_after_secs)]
    RateLimited(Limited),
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(Arc<DatabaseUnavailable>),
    #[error("database error: {0}")]
    Database(#[source] Arc<diesel::result::Error>),
}

impl From<DatabaseError> for ApiError {
    fn from(error: DatabaseError) -> Self {
        match error {
            DatabaseError::Unavailable(error) => Self::DatabaseUnavailable(error),
            DatabaseError::Query(error) => Self::Database(error),
        }
    }
}

impl ApiError {
    /// The problem as the client sees it.
    pub fn problem(&self) -> Problem {
        let (kind, title, detail) = match self {
            Self::QuoteNotFound => (
                ProblemType::QuoteNotFound,
                "No quote",
                "You have not saved a quote yet.".to_owned(),
            ),
            Self::InvalidQuote(error) => (
                ProblemType::InvalidQuote,
                "Invalid quote",
                error.to_string(),
            ),
            Self::MalformedJson(detail) => {
                (ProblemType::MalformedJson, "Malformed JSON", detail.clone())
            }
            Self::UnsupportedMediaType => (
                ProblemType::Blank,
                "Unsupported Media Type",
                "The request body must be application/json.".to_owned(),
            ),
            Self::PayloadTooLarge { limit } => (
                ProblemType::Blank,
                "Payload Too Large",
                format!("The request body is larger than {limit} bytes."),
            ),
            Self::Unauthenticated { error, .. } => {
                (auth_problem_type(error), "Unauthorized", error.to_string())
            }
            Self::Forbidden { refusal, .. } => refusal.problem(),
            Self::InvalidWebhook(error) => (
                ProblemType::InvalidWebhook,
                "Invalid webhook",
                format!("The delivery was not accepted: {error}."),
            ),
            Self::RequestTimeout { limit } => (
                ProblemType::Blank,
                "Request Timeout",
                format!(
                    "The request was not complete within {} seconds.",
                    limit.as_secs()
                ),
            ),
            Self::RouteNotFound => (
                ProblemType::Blank,
                "Not Found",
                "There is nothing at this path.".to_owned(),
            ),
            Self::MethodNotAllowed { allow } => (
                ProblemType::Blank,
                "Method Not Allowed",
                format!("This resource supports {allow}."),
            ),
            Self::MisdirectedRequest { answers_to } => (
                ProblemType::Blank,
                "Misdirected Request",
                format!("This resource answers only to {answers_to}."),
            ),
            Self::RateLimited(limited) => (
                ProblemType::RateLimited,
                "Too Many Requests",
                format!(
                    "Too many requests from this caller; try again in {} s.",
                    limited.retry_after_secs
                ),
            ),
            Self::DatabaseUnavailable(_) => (
                ProblemType::Unavailable,
                "Service Unavailable",
                "The database is not reachable right now; try again shortly.".to_owned(),
            ),
            Self::Database(error) if is_transient(error) => (
                ProblemType::Unavailable,
                "Service Unavailable",
                "The database is not reachable right now; try again shortly.".to_owned(),
            ),
            Self::Database(_) => (
                ProblemType::Blank,
                "Internal Server Error",
                "Something went wrong on our side; it has been logged.".to_owned(),
            ),
        };
        let missing_scopes = match self {
            Self::Forbidden {
                refusal: Forbidden::InsufficientScope { missing },
                ..
            } => Some(
                missing
                    .iter()
                    .map(quotes_core::auth::Scope::as_str)
                    .collect(),
            ),
            _ => None,
        };
        Problem {
            kind: kind.uri(),
            title,
            status: self.status_code().as_u16(),
            detail,
            missing_scopes,
        }
    }
}

/// Connection loss, timeouts and serialization failures say nothing about
/// the request; anything else from Postgres is a bug on our side.
fn is_transient(error: &diesel::result::Error) -> bool {
    use diesel::result::DatabaseErrorKind as Kind;
    match error {
        diesel::result::Error::DatabaseError(kind, _) => !matches!(
            kind,
            Kind::UniqueViolation
                | Kind::ForeignKeyViolation
                | Kind::NotNullViolation
                | Kind::CheckViolation
                | Kind::ExclusionViolation
        ),
        _ => false,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::QuoteNotFound | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::InvalidQuote(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::MalformedJson(_) | Self::InvalidWebhook(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthenticated { error, .. } if error.is_unavailable() => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::MisdirectedRequest { .. } => StatusCode::MISDIRECTED_REQUEST,
            Self::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(error) if is_transient(error) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(error = %self, "request refused for now");
        } else if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = problem_response(&self.problem());
        match self {
            Self::Unauthenticated { error, metadata } if !error.is_unavailable() => {
                if let Ok(value) = HeaderValue::from_str(&challenge(error, metadata.as_ref())) {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, value);
                }
            }
            Self::Forbidden {
                refusal,
                required,
                metadata,
            } => {
                let mut challenge = match refusal {
                    Forbidden::InsufficientScope { .. } => format!(
                        "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{required}\""
                    ),
                    // RFC 6750 has no error for "no user": another token
                    // will do, so the challenge names what one must hold.
                    Forbidden::NoUser { .. } => format!(
                        "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", error_description=\"a user's token is needed\", scope=\"{required}\""
                    ),
                };
                add_metadata(&mut challenge, metadata.as_ref());
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, value);
                }
            }
            Self::MethodNotAllowed { allow } => {
                if let Ok(value) = HeaderValue::from_str(allow) {
                    response.headers_mut().insert(header::ALLOW, value);
                }
            }
            // The `RateLimit` headers are added by `rate_limit::limit`.
            Self::RateLimited(limited) => {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(limited.retry_after_secs),
                );
            }
            _ => {}
        }
        // Every 503 says when to come back: the database, or the provider's
        // keys, are usually back within moments.
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// A response carrying `problem` as problem+json.
pub fn problem_response(problem: &Problem) -> HttpResponse {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type(PROBLEM_JSON)
        .json(problem)
}

/// Maps actix's JSON extractor errors onto the contract's status codes.
#[expect(clippy::needless_pass_by_value, reason = "the signature actix expects")]
pub fn json_error(error: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api_error = match &error {
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ApiError::PayloadTooLarge { limit: *limit }
        }
        JsonPayloadError::Deserialize(inner) if inner.is_data() => {
            // Well-formed JSON of the wrong shape: the quote is what is invalid.
            ApiError::InvalidQuote(QuoteError::Shape(inner.to_string()))
        }
        JsonPayloadError::Deserialize(inner) => {
            ApiError::MalformedJson(format!("The body is not valid JSON: {inner}."))
        }
        other => ApiError::MalformedJson(format!("The body could not be read: {other}.")),
    };
    api_error.into()
}

/// The 405 answer for a resource, naming the methods it does support.
pub fn method_not_allowed(allow: impl Into<Cow<'static, str>>) -> actix_web::Route {
    let allow = allow.into();
    actix_web::web::to(move || {
        let allow = allow.clone();
        async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow }) }
    })
}

/// An error from the layers inside a middleware (the request deadline, a
/// guard of the development provider), made into the response it will be,
/// with `headers` changed: an error that leaves the middleware chain is
/// written as it is, so the layers that add headers to every response add
/// them this way to errors.
pub fn with_headers(
    error: actix_web::Error,
    headers: impl FnOnce(&mut header::HeaderMap),
) -> actix_web::Error {
    let mut response = error.error_response();
    headers(response.headers_mut());
    actix_web::error::InternalError::from_response(error, response).into()
}

/// Whether a response is deliberately in another format than
/// problem+json: the development provider answers OAuth clients with RFC
/// 6749 JSON errors and people with HTML pages.
#[cfg(feature = "dev-idp")]
fn has_own_format<B>(res: &ServiceResponse<B>) -> bool {
    res.response()
        .extensions()
        .contains::<crate::dev_idp::OwnErrorFormat>()
}

#[cfg(not(feature = "dev-idp"))]
fn has_own_format<B>(_: &ServiceResponse<B>) -> bool {
    false
}

/// Last line of defence: any error response that is not problem+json yet
/// (from actix itself or a middleware) is rewritten into one, so clients
/// never see a text/plain error.
pub fn ensure_problem_json<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes() == PROBLEM_JSON.as_bytes());
    if is_problem || has_own_format(&res) {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let problem = Problem {
        kind: ProblemType::Blank.uri(),
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail: match status {
            // A refused CORS preflight says what was refused: the origin, the
            // method or a header.
            StatusCode::BAD_REQUEST => res
                .response()
                .error()
                .and_then(|error| error.as_error::<actix_cors::CorsError>())
                .map_or_else(
                    || "The request is malformed.".to_owned(),
                    |refused| format!("The CORS request was refused: {refused}."),
                ),
            _ => format!("The request failed with status {}.", status.as_u16()),
        },
        missing_scopes: None,
    };
    let (req, old) = res.into_parts();
    let mut response = problem_response(&problem);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    let res = ServiceResponse::new(req, response.map_body(|_, body| BoxBody::new(body)));
    Ok(ErrorHandlerResponse::Response(res.map_into_right_body()))
}
