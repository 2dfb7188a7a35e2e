//! The HTTP side of the sign-in flow: authorize (page and form), token and
//! logout. Handlers only parse, call [`super::flow`] and shape the answer;
//! errors take the form each audience expects (a page for a person, a
//! redirect or RFC 6749 JSON for a client), never problem+json.

use actix_web::error::{InternalError, QueryPayloadError, UrlencodedError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::flow::{self, AuthorizeError, AuthorizeParams, FlowError, TokenParams};
use super::page;
use super::provider::DevIdp;
use crate::http::error::OwnErrorFormat;

/// `GET /authorize`: the "sign in as" page.
pub async fn authorize_page(
    idp: web::Data<DevIdp>,
    query: web::Query<AuthorizeParams>,
) -> HttpResponse {
    match query.validate(idp.port()) {
        Ok(request) => html(
            StatusCode::OK,
            page::sign_in(&request, &idp.flow.recent_users(), None),
        ),
        Err(error) => authorize_error(error),
    }
}

/// The sign-in form: the authorization request again, and who signs in.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(flatten)]
    request: AuthorizeParams,
    /// What was typed in the "User name" field.
    user: Option<String>,
    /// A recent name, when one of those buttons was pressed.
    pick: Option<String>,
}

/// `POST /authorize`: signs in and sends the browser back with a code.
pub async fn sign_in(idp: web::Data<DevIdp>, form: web::Form<SignInForm>) -> HttpResponse {
    let request = match form.request.validate(idp.port()) {
        Ok(request) => request,
        Err(error) => return authorize_error(error),
    };
    let typed = form.pick.as_deref().or(form.user.as_deref()).unwrap_or("");
    let user = match flow::user_name(typed) {
        Ok(user) => user,
        Err(error) => {
            let recent = idp.flow.recent_users();
            let body = page::sign_in(&request, &recent, Some(&error.to_string()));
            return html(StatusCode::BAD_REQUEST, body);
        }
    };
    let back = request.redirect_url.clone();
    let state = request.state.clone();
    match idp.flow.issue(request, user) {
        Ok(code) => see_other(&flow::redirect_with(
            &back,
            &[("code", &code)],
            state.as_deref(),
        )),
        Err(error) => redirect_error(&back, state.as_deref(), &error),
    }
}

/// `POST /token`: exchanges a code for tokens (RFC 6749 §4.1.3).
pub async fn token(idp: web::Data<DevIdp>, form: web::Form<TokenParams>) -> HttpResponse {
    let grant = match idp.flow.redeem(&form) {
        Ok(grant) => grant,
        Err(error) => return token_error(&error),
    };
    match idp.tokens_for(&grant) {
        Ok(tokens) => no_store(HttpResponse::Ok()).json(tokens),
        Err(error) => {
            tracing::error!(%error, "cannot sign development tokens");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// What `GET /logout` accepts (OpenID Connect RP-Initiated Logout).
#[derive(Debug, Deserialize)]
pub struct LogoutParams {
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// `GET /logout`: the provider keeps no session (every sign-in shows the
/// page), so this only sends the browser back, or says it is done.
pub async fn logout(idp: web::Data<DevIdp>, query: web::Query<LogoutParams>) -> HttpResponse {
    let Some(raw) = query
        .post_logout_redirect_uri
        .as_deref()
        .filter(|raw| !raw.is_empty())
    else {
        return html(StatusCode::OK, page::signed_out());
    };
    match flow::loopback_redirect(Some(raw), idp.port()) {
        Ok(url) => see_other(&flow::redirect_with(&url, &[], query.state.as_deref())),
        Err(error) => html(
            StatusCode::BAD_REQUEST,
            page::error(&format!(
                "The post_logout_redirect_uri is refused: {error}."
            )),
        ),
    }
}

/// Malformed query strings and forms at the browser-facing endpoints.
pub fn malformed_query(error: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    let response = html(
        StatusCode::BAD_REQUEST,
        page::error("The request is malformed."),
    );
    InternalError::from_response(error, response).into()
}

/// As [`malformed_query`], for forms.
pub fn malformed_form(error: UrlencodedError, _: &HttpRequest) -> actix_web::Error {
    let response = html(
        StatusCode::BAD_REQUEST,
        page::error("The request is malformed."),
    );
    InternalError::from_response(error, response).into()
}

/// Malformed token requests get an OAuth error, as clients expect.
pub fn malformed_token_request(error: UrlencodedError, _: &HttpRequest) -> actix_web::Error {
    let response = token_error(&FlowError {
        code: flow::ErrorCode::InvalidRequest,
        description: "the body must be an application/x-www-form-urlencoded form",
    });
    InternalError::from_response(error, response).into()
}

fn authorize_error(error: AuthorizeError) -> HttpResponse {
    match error {
        AuthorizeError::Page(message) => html(StatusCode::BAD_REQUEST, page::error(&message)),
        AuthorizeError::Redirect {
            redirect_uri,
            state,
            error,
        } => redirect_error(&redirect_uri, state.as_deref(), &error),
    }
}

/// RFC 6749 §4.1.2.1: the error goes back to the client in the redirect.
fn redirect_error(redirect_uri: &Url, state: Option<&str>, error: &FlowError) -> HttpResponse {
    see_other(&flow::redirect_with(
        redirect_uri,
        &[
            ("error", error.code.as_str()),
            ("error_description", error.description),
        ],
        state,
    ))
}

/// RFC 6749 §5.2.
fn token_error(error: &FlowError) -> HttpResponse {
    let mut response = no_store(HttpResponse::BadRequest()).json(json!({
        "error": error.code.as_str(),
        "error_description": error.description,
    }));
    response.extensions_mut().insert(OwnErrorFormat);
    response
}

fn see_other(location: &Url) -> HttpResponse {
    no_store(HttpResponse::SeeOther())
        .insert_header((header::LOCATION, location.as_str()))
        // The code is in the address; keep it out of the next page's Referer.
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .finish()
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    let mut response = no_store(HttpResponse::build(status))
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            page::content_security_policy(),
        ))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(body);
    response.extensions_mut().insert(OwnErrorFormat);
    response
}

/// Codes, tokens and sign-in pages are never cached (RFC 6749 §5.1).
fn no_store(mut builder: HttpResponseBuilder) -> HttpResponseBuilder {
    builder
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .insert_header((header::PRAGMA, "no-cache"));
    builder
}

/// The discovery document.
pub async fn discovery(idp: web::Data<DevIdp>) -> HttpResponse {
    let issuer = idp.issuer();
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "jwks_uri": format!("{issuer}/jwks.json"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile"],
        "token_endpoint_auth_methods_supported": ["none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "claims_supported": ["iss", "sub", "name", "aud", "iat", "nbf", "exp", "nonce"],
    }))
}

/// The signing key, as a JWKS.
pub async fn jwks(idp: web::Data<DevIdp>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "public, max-age=300"))
        .json(json!({ "keys": [idp.jwk] }))
}
