//! The HTTP side of the provider: authorize (page and form), token,
//! introspection, revocation and logout, the browser session's cookie, and
//! client authentication (HTTP Basic or form fields). Handlers only parse,
//! call the provider ([`super::flow`], [`super::sessions`]) and shape the
//! answer; errors take the form each audience expects (a page for a
//! person, a redirect or RFC 6749 JSON for a client), never problem+json.

use std::net::IpAddr;
use std::time::Instant;

use actix_web::error::{InternalError, QueryPayloadError, UrlencodedError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, CacheControl, CacheDirective, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::clients::Credentials;
use super::device::{DEVICE_CODE_LIFETIME, POLL_INTERVAL, format_user_code, normalize_user_code};
use super::flow::{self, AuthorizeError, AuthorizeParams, ErrorCode, FlowError, Prompt};
use super::grants::{ApiScopes, SUPPORTED_SCOPES};
use super::page;
use super::provider::{DevIdp, unix_now};
use super::settings::PATH;
use super::token_request::TokenParams;

/// Marks an answer in the provider's own format (an HTML page for a
/// person, RFC 6749 JSON for an OAuth client), which the API's error
/// handling must leave as it is rather than rewrite into problem+json.
#[derive(Debug, Clone, Copy)]
pub struct OwnErrorFormat;

/// The browser session's cookie.
const SESSION_COOKIE: &str = "quotes_dev_idp_session";

/// Its attributes: only the provider's own paths see it, scripts never
/// do, and other sites' pages do not send it, except when following a
/// link or a redirect here (as an app's `prompt=none` does). No `Secure`:
/// the provider serves plain http on loopback only, where a browser would
/// not send a `Secure` cookie back. No `Max-Age`: it ends with the
/// browser session, or earlier on the server.
const SESSION_COOKIE_ATTRIBUTES: &str = "HttpOnly; SameSite=Lax";

/// `GET /authorize`: the "sign in as" page, or with `prompt=none` an
/// answer at once from the browser's session.
pub async fn authorize_page(
    req: HttpRequest,
    idp: web::Data<DevIdp>,
    query: web::Query<AuthorizeParams>,
) -> HttpResponse {
    let request = match idp.validate(&query) {
        Ok(request) => request,
        Err(error) => return authorize_error(error),
    };
    match request.prompt {
        Prompt::None => {
            let back = request.redirect_url.clone();
            let state = request.state.clone();
            let code = idp.sign_in_silently(request, &session_ids(&req), Instant::now());
            code_redirect(&back, state.as_deref(), code)
        }
        Prompt::Login => {
            // Every API scope asked for starts ticked.
            let ticked = request.requested_api_scopes();
            html(
                StatusCode::OK,
                page::sign_in(&request, &idp.flow.recent_users(), ticked, None),
            )
        }
    }
}

/// Who signs in and what they allow: the part of the sign-in and device
/// forms the person fills in.
#[derive(Debug, Deserialize)]
pub struct SignInAs {
    /// What was typed in the "User name" field.
    user: Option<String>,
    /// A recent name, when one of those buttons was pressed.
    pick: Option<String>,
    /// The consent checkboxes, named after their scopes: present when
    /// ticked. An unticked box sends nothing.
    #[serde(rename = "quotes:read")]
    grant_read: Option<String>,
    #[serde(rename = "quotes:write")]
    grant_write: Option<String>,
}

impl SignInAs {
    /// The API scopes left ticked; the provider grants only those of them
    /// that the request asked for, so a box added to the form adds nothing.
    fn ticked(&self) -> ApiScopes {
        ApiScopes {
            read: self.grant_read.is_some(),
            write: self.grant_write.is_some(),
        }
    }

    /// The name chosen: a recent one pressed, else the one typed.
    fn user(&self) -> &str {
        self.pick.as_deref().or(self.user.as_deref()).unwrap_or("")
    }
}

/// The sign-in form: the authorization request again, and who signs in.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(flatten)]
    request: AuthorizeParams,
    #[serde(flatten)]
    person: SignInAs,
}

/// `POST /authorize`: signs in, starting a browser session, and sends the
/// browser back with a code. Only the provider's own page may send it: a
/// form on another site could otherwise sign the browser in as someone of
/// the attacker's choosing (login CSRF).
pub async fn sign_in(
    req: HttpRequest,
    idp: web::Data<DevIdp>,
    form: web::Form<SignInForm>,
) -> HttpResponse {
    if !same_origin(&req) {
        return cross_site_refused();
    }
    let request = match idp.validate(&form.request) {
        Ok(request) => request,
        Err(error) => return authorize_error(error),
    };
    let granted = form.person.ticked().and(request.requested_api_scopes());
    let typed = form.person.user();
    let user = match flow::user_name(typed) {
        Ok(user) => user,
        Err(error) => {
            let recent = idp.flow.recent_users();
            let body = page::sign_in(&request, &recent, granted, Some(&error.to_string()));
            return html(StatusCode::BAD_REQUEST, body);
        }
    };
    let back = request.redirect_url.clone();
    let state = request.state.clone();
    match idp.sign_in(
        request,
        user,
        granted,
        &session_ids(&req),
        client_address(&req),
        Instant::now(),
    ) {
        Ok(signed_in) => with_cookie(
            code_redirect(&back, state.as_deref(), Ok(signed_in.code)),
            &format!(
                "{SESSION_COOKIE}={}; Path={PATH}; {SESSION_COOKIE_ATTRIBUTES}",
                signed_in.session.id
            ),
        ),
        Err(error) => redirect_error(&back, state.as_deref(), &error),
    }
}

/// `POST /token`: exchanges a code (RFC 6749 §4.1.3) or a refresh token
/// (§6) for tokens, or gives a registered client a token for itself
/// (client credentials, §4.4).
pub async fn token(
    req: HttpRequest,
    idp: web::Data<DevIdp>,
    form: web::Form<TokenParams>,
) -> HttpResponse {
    let mut params = form.into_inner();
    let client = match presented_credentials(
        &req,
        params.client_id.as_deref(),
        params.client_secret.as_deref(),
    )
    .and_then(|credentials| idp.authenticate(credentials.as_ref()))
    {
        Ok(client) => client,
        Err(error) => return token_error(&error),
    };
    // A client that authenticates with HTTP Basic need not repeat its id
    // in the form (RFC 6749 §4.1.3).
    if params.client_id.is_none() {
        params.client_id = client.map(|client| client.id().to_owned());
    }
    let issuance = match idp.grant(&params, client, client_address(&req), Instant::now()) {
        Ok(issuance) => issuance,
        Err(error) => return token_error(&error),
    };
    match idp.tokens_for(issuance) {
        Ok(tokens) => no_store(HttpResponse::Ok()).json(tokens),
        Err(error) => {
            tracing::error!(%error, "cannot sign development tokens");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// What a device authorization request (RFC 8628 §3.1) carries.
#[derive(Deserialize)]
pub struct DeviceAuthorizationParams {
    client_id: Option<String>,
    scope: Option<String>,
    /// RFC 8707: the resource the tokens will be for.
    resource: Option<String>,
    /// A registered client's secret; never logged.
    client_secret: Option<String>,
}

impl std::fmt::Debug for DeviceAuthorizationParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorizationParams")
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// `POST /device_authorization` (RFC 8628 §3.1, §3.2): a device code for
/// the client to poll with, and a user code for the person to enter at
/// `/device`.
pub async fn device_authorization(
    req: HttpRequest,
    idp: web::Data<DevIdp>,
    form: web::Form<DeviceAuthorizationParams>,
) -> HttpResponse {
    let params = form.into_inner();
    let client = match presented_credentials(
        &req,
        params.client_id.as_deref(),
        params.client_secret.as_deref(),
    )
    .and_then(|credentials| idp.authenticate(credentials.as_ref()))
    {
        Ok(client) => client,
        Err(error) => return token_error(&error),
    };
    let client_id = params
        .client_id
        .as_deref()
        .or(client.map(super::clients::RegisteredClient::id));
    match idp.start_device(
        client_id,
        client,
        params.scope.as_deref(),
        params.resource.as_deref(),
        Instant::now(),
    ) {
        Ok(issued) => {
            let verification_uri = format!("{}/device", idp.issuer());
            // A user code is letters and a dash: nothing to escape.
            let complete = format!("{verification_uri}?user_code={}", issued.user_code);
            no_store(HttpResponse::Ok()).json(json!({
                "device_code": issued.device_code,
                "user_code": issued.user_code,
                "verification_uri": verification_uri,
                "verification_uri_complete": complete,
                "expires_in": DEVICE_CODE_LIFETIME.as_secs(),
                "interval": POLL_INTERVAL.as_secs(),
            }))
        }
        Err(error) => token_error(&error),
    }
}

/// What `GET /device` reads: the code, when the link carried it or the
/// person entered it.
#[derive(Debug, Deserialize)]
pub struct DeviceQuery {
    user_code: Option<String>,
}

/// `GET /device` (RFC 8628 §3.3): asks for the code, then shows the
/// sign-in and consent page for the request waiting under it.
pub async fn device_page(idp: web::Data<DevIdp>, query: web::Query<DeviceQuery>) -> HttpResponse {
    let Some(typed) = query.user_code.as_deref().filter(|code| !code.is_empty()) else {
        return html(StatusCode::OK, page::device_entry(None, None));
    };
    let (Some(code), Some(request)) = (
        normalize_user_code(typed),
        idp.waiting_device(typed, Instant::now()),
    ) else {
        return html(
            StatusCode::BAD_REQUEST,
            page::device_entry(
                Some(typed),
                Some(
                    "This code is unknown, answered or expired. Check it, or start again on your device.",
                ),
            ),
        );
    };
    let code = format_user_code(&code);
    let ticked = request.requested_api_scopes();
    html(
        StatusCode::OK,
        page::device_sign_in(&code, &request, &idp.flow.recent_users(), ticked, None),
    )
}

/// The device page's form.
#[derive(Debug, Deserialize)]
pub struct DeviceForm {
    user_code: Option<String>,
    /// Present when the person pressed Deny.
    deny: Option<String>,
    #[serde(flatten)]
    person: SignInAs,
}

/// `POST /device`: the person signs in and allows, or denies. Only the
/// provider's own page may send it, as for the authorize form.
pub async fn device_answer(
    req: HttpRequest,
    idp: web::Data<DevIdp>,
    form: web::Form<DeviceForm>,
) -> HttpResponse {
    if !same_origin(&req) {
        return cross_site_refused();
    }
    let now = Instant::now();
    let typed = form.user_code.as_deref().unwrap_or_default();
    let Some(request) = idp.waiting_device(typed, now) else {
        return html(
            StatusCode::BAD_REQUEST,
            page::device_entry(
                Some(typed),
                Some(
                    "This code is unknown, answered or expired. Check it, or start again on your device.",
                ),
            ),
        );
    };
    if form.deny.is_some() {
        idp.answer_device(typed, None, now);
        return html(StatusCode::OK, page::device_done(false));
    }
    let granted = form.person.ticked().and(request.requested_api_scopes());
    let typed_user = form.person.user();
    let user = match flow::user_name(typed_user) {
        Ok(user) => user,
        Err(error) => {
            let code =
                normalize_user_code(typed).map_or_else(String::new, |c| format_user_code(&c));
            let body = page::device_sign_in(
                &code,
                &request,
                &idp.flow.recent_users(),
                granted,
                Some(&error.to_string()),
            );
            return html(StatusCode::BAD_REQUEST, body);
        }
    };
    if idp.answer_device(typed, Some((user, granted)), now) {
        html(StatusCode::OK, page::device_done(true))
    } else {
        html(
            StatusCode::BAD_REQUEST,
            page::device_entry(
                Some(typed),
                Some("This code expired. Start again on your device."),
            ),
        )
    }
}

/// What introspection (RFC 7662 §2.1) and revocation (RFC 7009 §2.1)
/// accept: the token in question, and the client's credentials when it
/// sends them in the form.
#[derive(Deserialize)]
pub struct TokenInQuestion {
    token: Option<String>,
    /// Which kind of token it is: a hint, which the provider does not need.
    #[expect(
        dead_code,
        reason = "accepted, as RFC 7662 and 7009 ask, and not needed"
    )]
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl std::fmt::Debug for TokenInQuestion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenInQuestion")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl TokenInQuestion {
    /// The token, once a registered client has proved who it is.
    fn authenticated<'a>(&'a self, req: &HttpRequest, idp: &DevIdp) -> Result<&'a str, FlowError> {
        let credentials = presented_credentials(
            req,
            self.client_id.as_deref(),
            self.client_secret.as_deref(),
        )?
        .ok_or(FlowError::new(
            ErrorCode::InvalidClient,
            "authenticate as a registered client (client_secret_basic or client_secret_post)",
        ))?;
        idp.authenticate(Some(&credentials))?;
        self.token.as_deref().ok_or(FlowError::new(
            ErrorCode::InvalidRequest,
            "token is required",
        ))
    }
}

/// `POST /introspect` (RFC 7662): what a registered client may know of a
/// token: `{"active": false}` for anything not a live access token of this
/// provider, its claims otherwise.
pub async fn introspect(
    req: HttpRequest,
    idp: web::Data<DevIdp>,
    form: web::Form<TokenInQuestion>,
) -> HttpResponse {
    match form.authenticated(&req, &idp) {
        Ok(token) => no_store(HttpResponse::Ok()).json(idp.introspect(token, unix_now())),
        Err(error) => token_error(&error),
    }
}

/// `POST /revoke` (RFC 7009): a registered client revokes a refresh token
/// (with its family) or an access token; a public client, a refresh token
/// issued to it. An unknown token gets `200` too
/// (§2.2): there is nothing to revoke.
pub async fn revoke(
    req: HttpRequest,
    idp: web::Data<DevIdp>,
    form: web::Form<TokenInQuestion>,
) -> HttpResponse {
    // A public client (a `client_id` with no secret, and not registered
    // with one) may revoke its own refresh tokens.
    let public_client = form.client_id.as_deref().filter(|id| {
        form.client_secret.is_none()
            && req.headers().get(header::AUTHORIZATION).is_none()
            && flow::client_id(Some(id)).is_some()
            && !idp.is_registered(id)
    });
    let revoked = match public_client {
        Some(client_id) => form
            .token
            .as_deref()
            .ok_or(FlowError::new(
                ErrorCode::InvalidRequest,
                "token is required",
            ))
            .and_then(|token| idp.revoke(token, Some(client_id), unix_now())),
        None => form
            .authenticated(&req, &idp)
            .and_then(|token| idp.revoke(token, None, unix_now())),
    };
    match revoked {
        Ok(()) => no_store(HttpResponse::Ok()).finish(),
        Err(error) => token_error(&error),
    }
}

/// The client credentials a request presents (RFC 6749 §2.3.1): HTTP
/// Basic, or `client_id` and `client_secret` in the form; not both.
fn presented_credentials(
    req: &HttpRequest,
    client_id: Option<&str>,
    client_secret: Option<&str>,
) -> Result<Option<Credentials>, FlowError> {
    let header = req.headers().get(header::AUTHORIZATION);
    match (header, client_secret) {
        (Some(_), Some(_)) => Err(FlowError::new(
            ErrorCode::InvalidRequest,
            "use one way of client authentication: HTTP Basic or client_secret, not both",
        )),
        (Some(value), None) => {
            let credentials = value
                .to_str()
                .ok()
                .and_then(Credentials::from_basic)
                .ok_or(FlowError::new(
                    ErrorCode::InvalidClient,
                    "the Authorization header must be HTTP Basic with the client's id and secret",
                ))?;
            if client_id.is_some_and(|id| id != credentials.id) {
                return Err(FlowError::new(
                    ErrorCode::InvalidClient,
                    "client_id is not the authenticated client's",
                ));
            }
            Ok(Some(credentials))
        }
        (None, Some(secret)) => {
            let id = client_id.ok_or(FlowError::new(
                ErrorCode::InvalidRequest,
                "client_secret needs client_id",
            ))?;
            Ok(Some(Credentials {
                id: id.to_owned(),
                secret: secret.to_owned(),
            }))
        }
        (None, None) => Ok(None),
    }
}

/// What `GET /logout` accepts (OpenID Connect RP-Initiated Logout 1.0),
/// and what its confirmation form sends back.
#[derive(Debug, Deserialize)]
pub struct LogoutParams {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// `GET /logout`: ends the browser's session (and the refresh tokens
/// issued in it) at once when the app proves it is the session's, with an
/// ID token of the session's user (`id_token_hint`); otherwise asks the
/// person first, so that a link on any page cannot sign them out. Then
/// sends the browser back, or says it is done. A refused
/// `post_logout_redirect_uri` changes nothing.
pub async fn logout(
    req: HttpRequest,
    idp: web::Data<DevIdp>,
    query: web::Query<LogoutParams>,
) -> HttpResponse {
    let back = match logout_return(&idp, &query) {
        Ok(back) => back,
        Err(refused) => return *refused,
    };
    let ids = session_ids(&req);
    let Some(user) = idp.session_user(&ids, Instant::now()) else {
        // Nothing to end: nobody is signed in in this browser.
        return signed_out(&idp, &ids, back.as_ref(), query.state.as_deref());
    };
    let proven = query
        .id_token_hint
        .as_deref()
        .and_then(|hint| idp.id_token_subject(hint))
        .is_some_and(|subject| subject == user);
    if proven {
        return signed_out(&idp, &ids, back.as_ref(), query.state.as_deref());
    }
    html(
        StatusCode::OK,
        page::confirm_sign_out(
            &user,
            query
                .post_logout_redirect_uri
                .as_deref()
                .filter(|_| back.is_some()),
            query.state.as_deref(),
        ),
    )
}

/// `POST /logout`: the person confirmed on the provider's own page.
pub async fn confirm_logout(
    req: HttpRequest,
    idp: web::Data<DevIdp>,
    form: web::Form<LogoutParams>,
) -> HttpResponse {
    if !same_origin(&req) {
        return cross_site_refused();
    }
    let back = match logout_return(&idp, &form) {
        Ok(back) => back,
        Err(refused) => return *refused,
    };
    signed_out(
        &idp,
        &session_ids(&req),
        back.as_ref(),
        form.state.as_deref(),
    )
}

/// Where to send the browser after logout, if anywhere; an error page for
/// an address off this machine.
fn logout_return(idp: &DevIdp, params: &LogoutParams) -> Result<Option<Url>, Box<HttpResponse>> {
    let raw = params
        .post_logout_redirect_uri
        .as_deref()
        .filter(|raw| !raw.is_empty());
    raw.map(|raw| flow::loopback_redirect(Some(raw), idp.port()))
        .transpose()
        .map_err(|error| {
            Box::new(html(
                StatusCode::BAD_REQUEST,
                page::error(&format!(
                    "The post_logout_redirect_uri is refused: {error}."
                )),
            ))
        })
}

/// Ends the sessions behind `ids`, clears the cookie, and sends the
/// browser `back` (with `state`) or says it is done.
fn signed_out(idp: &DevIdp, ids: &[&str], back: Option<&Url>, state: Option<&str>) -> HttpResponse {
    idp.sign_out(ids);
    let response = match back {
        None => html(StatusCode::OK, page::signed_out()),
        Some(url) => see_other(&flow::redirect_with(url, &[], state)),
    };
    with_cookie(
        response,
        &format!("{SESSION_COOKIE}=; Path={PATH}; Max-Age=0; {SESSION_COOKIE_ATTRIBUTES}"),
    )
}

/// Whether a form was sent by a page of the provider itself: browsers say
/// where a request comes from in `Sec-Fetch-Site`, and name the page's
/// origin in `Origin`. A request with neither is not a browser's, and so
/// cannot be a forgery riding on one.
fn same_origin(req: &HttpRequest) -> bool {
    if let Some(site) = req.headers().get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or_default();
    origin
        .to_str()
        .is_ok_and(|origin| origin.eq_ignore_ascii_case(&format!("http://{host}")))
}

fn cross_site_refused() -> HttpResponse {
    html(
        StatusCode::FORBIDDEN,
        page::error("This form can only be sent from the provider's own page."),
    )
}

/// The client's address, by which the provider shares out what it keeps.
fn client_address(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |peer| {
            peer.ip().to_canonical()
        })
}

/// The values of the session cookie the browser sent: usually none or
/// one, but nothing stops a page on another loopback port from setting a
/// cookie of the same name (cookies do not keep ports apart), so every one
/// is tried, up to a few.
fn session_ids(req: &HttpRequest) -> Vec<&str> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .take(4)
        .collect()
}

fn with_cookie(mut response: HttpResponse, cookie: &str) -> HttpResponse {
    // The cookie is made of a name, base64url and fixed attributes, always
    // a valid header value.
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Sends the browser back with a code, or with the error that kept it
/// from getting one.
fn code_redirect(back: &Url, state: Option<&str>, code: Result<String, FlowError>) -> HttpResponse {
    match code {
        Ok(code) => see_other(&flow::redirect_with(back, &[("code", &code)], state)),
        Err(error) => redirect_error(back, state, &error),
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

/// Malformed token, introspection and revocation requests get an OAuth
/// error, as clients expect.
pub fn malformed_token_request(error: UrlencodedError, _: &HttpRequest) -> actix_web::Error {
    let response = token_error(&FlowError {
        code: ErrorCode::InvalidRequest,
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

/// RFC 6749 §5.2: `400`, or `401` with a Basic challenge when the client
/// failed to authenticate; `503` when the request cannot be met now.
fn token_error(error: &FlowError) -> HttpResponse {
    let builder = match error.code {
        ErrorCode::InvalidClient => {
            let mut builder = HttpResponse::Unauthorized();
            builder.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"dev-idp\""));
            builder
        }
        ErrorCode::TemporarilyUnavailable => {
            let mut builder = HttpResponse::ServiceUnavailable();
            builder.insert_header((header::RETRY_AFTER, "60"));
            builder
        }
        _ => HttpResponse::BadRequest(),
    };
    let mut response = no_store(builder).json(json!({
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
        "device_authorization_endpoint": format!("{issuer}/device_authorization"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "jwks_uri": format!("{issuer}/jwks.json"),
        "response_types_supported": ["code"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            super::token_request::DEVICE_CODE_GRANT,
        ],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": SUPPORTED_SCOPES,
        "prompt_values_supported": ["none", "login"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "claims_supported": [
            "iss", "sub", "name", "aud", "iat", "nbf", "exp", "nonce", "client_id", "scope", "jti",
        ],
    }))
}

/// The signing key, as a JWKS.
pub async fn jwks(idp: web::Data<DevIdp>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "public, max-age=300"))
        .json(json!({ "keys": [idp.jwk] }))
}
