//! The rules of the authorization-code flow with PKCE (RFC 6749 §4.1,
//! RFC 7636), as plain functions and in-memory state, so they can be
//! tested without HTTP: the authorization request (with OpenID Connect's
//! `prompt`) and its codes. The token request is read in
//! [`super::token_request`]; sessions and refresh tokens are in
//! [`super::sessions`].
//!
//! The provider only ever sends a browser back to a loopback address: it
//! runs on loopback itself, and a redirect anywhere else would hand codes
//! to whoever owns that address.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use url::Url;

use super::grants::{ApiScopes, Resource};
use super::sessions::{FamilyId, RefreshError, SessionKey};
use quotes_core::auth::keys::is_loopback_host;

/// How long an authorization code can be exchanged.
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// Most codes waiting to be exchanged; a browser that never comes back
/// must not grow the map without end.
pub const MAX_PENDING_CODES: usize = 1024;

/// How many recent user names the sign-in page offers.
pub const RECENT_USERS: usize = 5;

/// Longest user name, in characters.
pub const MAX_USER_CHARS: usize = 64;

/// Longest `client_id`, `state`, `nonce`, `scope`, `prompt` or `resource`
/// accepted, in bytes.
pub const MAX_PARAM_BYTES: usize = 1024;

/// Why a `redirect_uri` (or `post_logout_redirect_uri`) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    #[error("it is missing")]
    Missing,
    #[error("it is not an absolute URL")]
    NotAbsolute,
    #[error("it must use http or https")]
    Scheme,
    #[error("it must point to this machine (localhost, 127.0.0.1 or [::1])")]
    NotLoopback,
    #[error("it must not carry a fragment or credentials")]
    Extra,
    #[error("it is too long")]
    TooLong,
    #[error("it must not point into the provider itself")]
    OwnPath,
}

/// Checks that `raw` is an absolute http(s) URL on a loopback host, the
/// only place this provider sends a browser, and not under the provider's
/// own path on `own_port`: a code sent to a page of the provider (its JWKS,
/// which every origin may read) would be a code handed to anyone.
pub fn loopback_redirect(raw: Option<&str>, own_port: u16) -> Result<Url, RedirectError> {
    let raw = raw
        .filter(|raw| !raw.is_empty())
        .ok_or(RedirectError::Missing)?;
    if raw.len() > MAX_PARAM_BYTES {
        return Err(RedirectError::TooLong);
    }
    let url = Url::parse(raw).map_err(|_| RedirectError::NotAbsolute)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(RedirectError::Scheme);
    }
    // RFC 6749 §3.1.2: no fragment. Credentials have no use here and make
    // a URL look like it goes somewhere it does not.
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectError::Extra);
    }
    if !is_loopback_host(&url) {
        return Err(RedirectError::NotLoopback);
    }
    // Compared as the router would see the path: decoded, in any case.
    let path = percent_encoding::percent_decode_str(url.path())
        .decode_utf8_lossy()
        .to_ascii_lowercase();
    let own_path =
        path == super::settings::PATH || path.starts_with(&format!("{}/", super::settings::PATH));
    if url.port_or_known_default() == Some(own_port) && own_path {
        return Err(RedirectError::OwnPath);
    }
    Ok(url)
}

/// `base` with `pairs` added to its query, and `state` when there is one
/// (the client matches answers to requests with it).
pub fn redirect_with(base: &Url, pairs: &[(&str, &str)], state: Option<&str>) -> Url {
    let mut url = base.clone();
    // Nothing to add leaves the address as it was: no bare `?` at its end.
    if !pairs.is_empty() || state.is_some() {
        let mut query = url.query_pairs_mut();
        query.extend_pairs(pairs);
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    url
}

/// Checks a `client_id`: any public client is welcome, but the value is
/// echoed and stored, so it must be short and printable.
pub fn client_id(raw: Option<&str>) -> Option<&str> {
    raw.filter(|id| !id.is_empty() && id.len() <= MAX_PARAM_BYTES && is_printable(id))
}

/// An OAuth error code, sent back to the client (RFC 6749 §4.1.2.1, §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    UnsupportedResponseType,
    InvalidGrant,
    UnsupportedGrantType,
    /// Client authentication failed, or a client that must authenticate
    /// did not (RFC 6749 §5.2): answered 401.
    InvalidClient,
    /// A scope the client may not have (RFC 6749 §5.2).
    InvalidScope,
    /// A `resource` the provider does not serve (RFC 8707 §2).
    InvalidTarget,
    /// `prompt=none`, and nobody is signed in (OpenID Connect Core §3.1.2.6).
    LoginRequired,
    ServerError,
    /// Device grant (RFC 8628 §3.5): the person has not answered yet.
    AuthorizationPending,
    /// Device grant: polled faster than the interval, which grows.
    SlowDown,
    /// The person denied the request.
    AccessDenied,
    /// Device grant: the device code expired.
    ExpiredToken,
    /// Nothing wrong with the request, but it cannot be done now: 503.
    TemporarilyUnavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidGrant => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidClient => "invalid_client",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::LoginRequired => "login_required",
            Self::ServerError => "server_error",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::AccessDenied => "access_denied",
            Self::ExpiredToken => "expired_token",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

/// An OAuth error with a description for the developer reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowError {
    pub code: ErrorCode,
    pub description: &'static str,
}

impl FlowError {
    pub(super) const fn new(code: ErrorCode, description: &'static str) -> Self {
        Self { code, description }
    }
}

/// Every refused refresh token is an `invalid_grant` (RFC 6749 §5.2).
impl From<RefreshError> for FlowError {
    fn from(error: RefreshError) -> Self {
        Self::new(ErrorCode::InvalidGrant, error.description())
    }
}

/// The parameters of an authorization request, as sent.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub scope: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    /// RFC 8707: the resource the tokens are for, which then carry it as `aud`.
    pub resource: Option<String>,
}

/// What the `prompt` parameter asks of the provider (OpenID Connect Core
/// §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Prompt {
    /// Show the sign-in page (`login`, or no `prompt`): a session never
    /// skips it.
    #[default]
    Login,
    /// `none`: answer at once from the browser's session, or with
    /// `login_required`; never show a page.
    None,
}

/// An authorization request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub client_id: String,
    /// Exactly as sent, since the token request must repeat it byte for byte.
    pub redirect_uri: String,
    /// The same, parsed, to send the browser back to.
    pub redirect_url: Url,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub scope: String,
    pub code_challenge: String,
    pub prompt: Prompt,
    /// The `resource` as sent, when it named the provider's one resource;
    /// the tokens are then bound to it.
    pub resource: Option<String>,
}

impl Authorization {
    /// The API scopes the request asks for; other scopes grant nothing at
    /// the API, and unknown ones are passed over.
    pub fn requested_api_scopes(&self) -> ApiScopes {
        ApiScopes::among(&self.scope)
    }
}

/// Where errors about an authorization request go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or its redirect URI cannot be trusted: tell the person
    /// in the browser, never redirect.
    Page(String),
    /// Send the browser back to the client with `error` and `state`.
    Redirect {
        redirect_uri: Box<Url>,
        state: Option<String>,
        error: FlowError,
    },
}

impl AuthorizeParams {
    /// Validates the request: first the client and where to send the
    /// browser (errors shown on a page), then the rest (errors redirected).
    /// `resource` is the one the provider serves, if any.
    pub fn validate(
        &self,
        own_port: u16,
        resource: Option<&Resource>,
    ) -> Result<Authorization, AuthorizeError> {
        let redirect_uri = loopback_redirect(self.redirect_uri.as_deref(), own_port)
            .map_err(|e| AuthorizeError::Page(format!("The redirect_uri is refused: {e}.")))?;
        let client_id = client_id(self.client_id.as_deref()).ok_or_else(|| {
            AuthorizeError::Page("The client_id is missing or malformed.".to_owned())
        })?;
        let redirect = |error| AuthorizeError::Redirect {
            redirect_uri: Box::new(redirect_uri.clone()),
            state: self.state.clone(),
            error,
        };
        let prompt = self.check_rest().map_err(redirect)?;
        if let Some(requested) = &self.resource {
            let served = resource.is_some_and(|resource| resource.check(requested).is_ok());
            if !served {
                return Err(redirect(FlowError::new(
                    ErrorCode::InvalidTarget,
                    "the only resource served is the API itself",
                )));
            }
        }
        Ok(Authorization {
            client_id: client_id.to_owned(),
            redirect_uri: self.redirect_uri.clone().unwrap_or_default(),
            redirect_url: redirect_uri,
            state: self.state.clone(),
            nonce: self.nonce.clone(),
            scope: self.scope.clone().unwrap_or_else(|| "openid".to_owned()),
            code_challenge: self.code_challenge.clone().unwrap_or_default(),
            prompt,
            resource: self.resource.clone(),
        })
    }

    fn check_rest(&self) -> Result<Prompt, FlowError> {
        use ErrorCode::{InvalidRequest, UnsupportedResponseType};
        match self.response_type.as_deref() {
            Some("code") => {}
            None => return Err(FlowError::new(InvalidRequest, "response_type is required")),
            Some(_) => {
                return Err(FlowError::new(
                    UnsupportedResponseType,
                    "only response_type=code is supported",
                ));
            }
        }
        if self.code_challenge_method.as_deref() != Some("S256") {
            return Err(FlowError::new(
                InvalidRequest,
                "PKCE is required with code_challenge_method=S256",
            ));
        }
        if !self
            .code_challenge
            .as_deref()
            .is_some_and(is_s256_challenge)
        {
            return Err(FlowError::new(
                InvalidRequest,
                "code_challenge must be BASE64URL(SHA256(code_verifier))",
            ));
        }
        let short = |value: &Option<String>| {
            value
                .as_deref()
                .is_none_or(|v| v.len() <= MAX_PARAM_BYTES && is_printable(v))
        };
        if ![
            &self.state,
            &self.nonce,
            &self.scope,
            &self.prompt,
            &self.resource,
        ]
        .into_iter()
        .all(short)
        {
            return Err(FlowError::new(
                InvalidRequest,
                "state, nonce, scope, prompt and resource must be short and printable",
            ));
        }
        prompt(self.prompt.as_deref())
    }
}

/// Reads `prompt`, a space-separated list. `none` must stand alone; the
/// other values (`login`, `consent`, `select_account`, or ones this
/// provider does not know) are all met by showing the sign-in page.
fn prompt(raw: Option<&str>) -> Result<Prompt, FlowError> {
    let mut values = raw.unwrap_or_default().split_ascii_whitespace();
    if !values.clone().any(|value| value == "none") {
        return Ok(Prompt::Login);
    }
    if values.all(|value| value == "none") {
        Ok(Prompt::None)
    } else {
        Err(FlowError::new(
            ErrorCode::InvalidRequest,
            "prompt=none cannot be combined with other values",
        ))
    }
}

/// An S256 challenge is the unpadded base64url of 32 bytes: 43 characters.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks a `code_verifier` against its RFC 7636 §4.1 form: 43 to 128
/// characters of `[A-Za-z0-9-._~]`.
pub fn is_code_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 check of RFC 7636 §4.6: `BASE64URL(SHA256(verifier)) == challenge`.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
    aws_lc_rs::constant_time::verify_slices_are_equal(computed.as_bytes(), challenge.as_bytes())
        .is_ok()
}

/// Why a user name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UserNameError {
    #[error("Enter a user name.")]
    Empty,
    #[error("A user name has at most 64 characters.")]
    TooLong,
    #[error("A user name cannot contain control characters.")]
    Control,
}

/// The user name typed at the sign-in page, trimmed. It becomes the
/// token's `sub` as it is, so signing in as `alice` and
/// `quotes-api dev-token alice` speak for the same user.
pub fn user_name(raw: &str) -> Result<&str, UserNameError> {
    let name = raw.trim();
    if name.is_empty() {
        Err(UserNameError::Empty)
    } else if name.chars().count() > MAX_USER_CHARS {
        Err(UserNameError::TooLong)
    } else if name.chars().any(char::is_control) {
        Err(UserNameError::Control)
    } else {
        Ok(name)
    }
}

fn is_printable(value: &str) -> bool {
    !value.chars().any(char::is_control)
}

/// What a code stands for until it is exchanged.
#[derive(Debug, Clone)]
pub struct Grant {
    pub authorization: Authorization,
    pub user: String,
    /// The API scopes the person granted (a subset of those requested).
    pub granted: ApiScopes,
    /// The browser session the code was issued in, if any.
    pub session: Option<SessionKey>,
    expires: Instant,
}

/// The parameters of a code exchange, present and well formed (see
/// [`super::token_request`]).
#[derive(Debug)]
pub struct CodeExchange<'a> {
    pub(super) code: &'a str,
    pub(super) redirect_uri: &'a str,
    pub(super) client_id: &'a str,
    pub(super) code_verifier: &'a str,
}

/// The flow's memory: codes waiting to be exchanged, codes exchanged
/// within their lifetime (and the refresh-token family each started), and
/// the names signed in lately. Nothing survives a restart, nor needs to.
#[derive(Debug, Default)]
pub struct FlowState {
    codes: Mutex<HashMap<String, Grant>>,
    spent: Mutex<HashMap<String, Spent>>,
    recent: Mutex<VecDeque<String>>,
}

/// A code exchanged already, remembered until it would have expired.
#[derive(Debug)]
struct Spent {
    expires: Instant,
    /// The family its exchange started, once it has.
    family: Option<FamilyId>,
}

/// Why a code is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRefused {
    /// Unknown, expired, or presented with the wrong client, redirect or
    /// verifier.
    Invalid(FlowError),
    /// Exchanged before: whoever holds it now may have stolen it, so what
    /// the first exchange started must be revoked (RFC 6749 §4.1.2).
    Replayed(Option<FamilyId>),
}

impl FlowState {
    /// Issues a fresh single-use code for `user`, signed in in the browser
    /// `session`, worth the API scopes `granted` of those requested.
    pub fn issue(
        &self,
        authorization: Authorization,
        user: &str,
        granted: ApiScopes,
        session: Option<SessionKey>,
    ) -> Result<String, FlowError> {
        let code = random_code().ok_or(FlowError::new(
            ErrorCode::ServerError,
            "no randomness available",
        ))?;
        let now = Instant::now();
        let granted = granted.and(authorization.requested_api_scopes());
        let grant = Grant {
            authorization,
            user: user.to_owned(),
            granted,
            session,
            expires: now + CODE_LIFETIME,
        };
        let mut codes = self
            .codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        codes.retain(|_, grant| grant.expires > now);
        if codes.len() >= MAX_PENDING_CODES
            && let Some(oldest) = codes
                .iter()
                .min_by_key(|(_, grant)| grant.expires)
                .map(|(code, _)| code.clone())
        {
            codes.remove(&oldest);
        }
        codes.insert(code.clone(), grant);
        drop(codes);
        self.remember(user);
        Ok(code)
    }

    /// Exchanges a code: it is used up by the first attempt, whatever the
    /// outcome, so a wrong verifier cannot be retried against it. A code
    /// presented again within its lifetime is a replay.
    pub fn redeem(&self, request: &CodeExchange<'_>) -> Result<Grant, CodeRefused> {
        let now = Instant::now();
        let grant = self
            .codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(request.code);
        let mut spent = self
            .spent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        spent.retain(|_, code| code.expires > now);
        let Some(grant) = grant.filter(|grant| grant.expires > now) else {
            return Err(match spent.remove(request.code) {
                Some(code) => CodeRefused::Replayed(code.family),
                None => CodeRefused::Invalid(FlowError::new(
                    ErrorCode::InvalidGrant,
                    "the code is unknown, used or expired",
                )),
            });
        };
        if spent.len() < MAX_PENDING_CODES {
            spent.insert(
                request.code.to_owned(),
                Spent {
                    expires: grant.expires,
                    family: None,
                },
            );
        }
        drop(spent);
        let authorization = &grant.authorization;
        let invalid = |description| {
            Err(CodeRefused::Invalid(FlowError::new(
                ErrorCode::InvalidGrant,
                description,
            )))
        };
        if authorization.client_id != request.client_id {
            return invalid("the code was issued to another client_id");
        }
        if authorization.redirect_uri != request.redirect_uri {
            return invalid("redirect_uri differs from the authorization request");
        }
        if !pkce_matches(request.code_verifier, &authorization.code_challenge) {
            return invalid("code_verifier does not match the code_challenge");
        }
        Ok(grant)
    }

    /// Remembers the family the exchange of `code` started, for a replay
    /// to revoke.
    pub fn started_family(&self, code: &str, family: FamilyId) {
        if let Some(spent) = self
            .spent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_mut(code)
        {
            spent.family = Some(family);
        }
    }

    /// The names signed in lately, most recent first.
    pub fn recent_users(&self) -> Vec<String> {
        self.recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// Adds `user` to the names signed in lately.
    pub fn remember_user(&self, user: &str) {
        self.remember(user);
    }

    fn remember(&self, user: &str) {
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        recent.retain(|name| name != user);
        recent.push_front(user.to_owned());
        recent.truncate(RECENT_USERS);
    }
}

/// 32 random bytes, base64url: unguessable within a code's minute.
fn random_code() -> Option<String> {
    let mut bytes = [0_u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn a_redirect_with_nothing_to_add_keeps_the_address_as_it_was() {
        let back = Url::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(
            redirect_with(&back, &[], None).as_str(),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(
            redirect_with(&back, &[], Some("s 1")).as_str(),
            "http://127.0.0.1:8080/?state=s+1"
        );
        assert_eq!(
            redirect_with(&back, &[("code", "c")], None).as_str(),
            "http://127.0.0.1:8080/?code=c"
        );
    }

    #[test]
    fn pkce_accepts_the_rfc_example_and_nothing_else() {
        assert!(pkce_matches(VERIFIER, CHALLENGE));
        assert!(!pkce_matches(VERIFIER, &CHALLENGE.replace('E', "F")));
        assert!(!pkce_matches(&VERIFIER.replace('d', "e"), CHALLENGE));
        // `plain` would compare the verifier itself; S256 never does.
        assert!(!pkce_matches(VERIFIER, VERIFIER));
        assert!(!pkce_matches(VERIFIER, ""));
    }

    #[test]
    fn code_verifiers_follow_rfc_7636() {
        assert!(is_code_verifier(VERIFIER));
        assert!(is_code_verifier(&"a~._-".repeat(9)[..43]));
        assert!(is_code_verifier(&"x".repeat(128)));
        assert!(!is_code_verifier(&"x".repeat(42)));
        assert!(!is_code_verifier(&"x".repeat(129)));
        assert!(!is_code_verifier(&format!("{}+", "x".repeat(43))));
        assert!(!is_code_verifier(&format!("{} ", "x".repeat(43))));
    }

    /// The port the provider itself listens on, in these tests.
    const OWN_PORT: u16 = 8080;

    #[test]
    fn redirects_go_to_loopback_only() {
        for ok in [
            "http://localhost:5173/callback",
            "http://127.0.0.1:8080/docs/oauth2-redirect.html?x=1",
            "https://[::1]/cb",
            "http://LOCALHOST/",
            "http://127.0.0.1:8080/",
            "http://127.0.0.1:8080/dev-idpx",
            "http://127.0.0.1:5173/dev-idp/jwks.json",
        ] {
            assert!(loopback_redirect(Some(ok), OWN_PORT).is_ok(), "{ok}");
        }
        for (bad, why) in [
            (None, RedirectError::Missing),
            (Some(""), RedirectError::Missing),
            (Some("/callback"), RedirectError::NotAbsolute),
            (Some("https://evil.example/cb"), RedirectError::NotLoopback),
            (
                Some("http://localhost.evil.example/"),
                RedirectError::NotLoopback,
            ),
            (Some("http://localhost@evil.example/"), RedirectError::Extra),
            (Some("http://10.0.0.1/"), RedirectError::NotLoopback),
            (Some("http://[::2]/"), RedirectError::NotLoopback),
            (
                Some("javascript://localhost/%0aalert(1)"),
                RedirectError::Scheme,
            ),
            (Some("file://localhost/etc/passwd"), RedirectError::Scheme),
            (Some("http://localhost/#frag"), RedirectError::Extra),
            (Some("http://user@localhost/"), RedirectError::Extra),
            (
                Some("http://127.0.0.1:8080/dev-idp/jwks.json"),
                RedirectError::OwnPath,
            ),
            (
                Some("http://localhost:8080/dev-idp"),
                RedirectError::OwnPath,
            ),
            (
                Some("http://[::1]:8080/%64ev-IDP/.well-known/openid-configuration"),
                RedirectError::OwnPath,
            ),
        ] {
            assert_eq!(loopback_redirect(bad, OWN_PORT), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn user_names_are_trimmed_and_bounded() {
        assert_eq!(user_name("  alice \n"), Ok("alice"));
        assert_eq!(user_name(&"é".repeat(64)), Ok("é".repeat(64).as_str()));
        assert_eq!(user_name(" \t "), Err(UserNameError::Empty));
        assert_eq!(user_name(&"a".repeat(65)), Err(UserNameError::TooLong));
        assert_eq!(user_name("al\u{7}ice"), Err(UserNameError::Control));
    }

    fn api() -> Resource {
        Resource::new("http://127.0.0.1:8080").unwrap()
    }

    fn params() -> AuthorizeParams {
        AuthorizeParams {
            response_type: Some("code".to_owned()),
            client_id: Some("spa".to_owned()),
            redirect_uri: Some("http://localhost:5173/cb".to_owned()),
            state: Some("xyz".to_owned()),
            code_challenge: Some(CHALLENGE.to_owned()),
            code_challenge_method: Some("S256".to_owned()),
            ..AuthorizeParams::default()
        }
    }

    #[test]
    fn authorization_requests_need_s256_pkce() {
        assert!(params().validate(OWN_PORT, Some(&api())).is_ok());
        for change in [
            |p: &mut AuthorizeParams| p.code_challenge_method = Some("plain".to_owned()),
            |p: &mut AuthorizeParams| p.code_challenge_method = None,
            |p: &mut AuthorizeParams| p.code_challenge = None,
            |p: &mut AuthorizeParams| p.code_challenge = Some("short".to_owned()),
        ] {
            let mut p = params();
            change(&mut p);
            let Err(AuthorizeError::Redirect { error, state, .. }) =
                p.validate(OWN_PORT, Some(&api()))
            else {
                panic!("expected a redirect with an error");
            };
            assert_eq!(error.code, ErrorCode::InvalidRequest);
            assert_eq!(state.as_deref(), Some("xyz"));
        }
    }

    #[test]
    fn prompt_none_stands_alone_and_other_values_show_the_page() {
        for (raw, expected) in [
            (None, Prompt::Login),
            (Some(""), Prompt::Login),
            (Some("login"), Prompt::Login),
            (Some("consent select_account"), Prompt::Login),
            (Some("none"), Prompt::None),
            (Some(" none  none "), Prompt::None),
        ] {
            let mut p = params();
            p.prompt = raw.map(str::to_owned);
            assert_eq!(
                p.validate(OWN_PORT, Some(&api())).unwrap().prompt,
                expected,
                "{raw:?}"
            );
        }
        let mut p = params();
        p.prompt = Some("none login".to_owned());
        let Err(AuthorizeError::Redirect { error, state, .. }) = p.validate(OWN_PORT, Some(&api()))
        else {
            panic!("expected a redirect with an error");
        };
        assert_eq!(error.code, ErrorCode::InvalidRequest);
        assert_eq!(state.as_deref(), Some("xyz"));
    }

    #[test]
    fn an_untrusted_redirect_is_never_followed() {
        let mut p = params();
        p.redirect_uri = Some("https://evil.example/cb".to_owned());
        p.response_type = Some("token".to_owned());
        assert!(matches!(
            p.validate(OWN_PORT, Some(&api())),
            Err(AuthorizeError::Page(_))
        ));
    }

    fn exchange(code: &str) -> CodeExchange<'_> {
        CodeExchange {
            code,
            redirect_uri: "http://localhost:5173/cb",
            client_id: "spa",
            code_verifier: VERIFIER,
        }
    }

    #[test]
    fn codes_are_single_use_and_bound_to_the_request() {
        let state = FlowState::default();
        let authorization = params().validate(OWN_PORT, Some(&api())).unwrap();
        let code = state
            .issue(authorization.clone(), "alice", ApiScopes::ALL, None)
            .unwrap();
        let grant = state.redeem(&exchange(&code)).unwrap();
        assert_eq!(grant.user, "alice");
        state.started_family(&code, [7; 16]);
        assert_eq!(
            state.redeem(&exchange(&code)).unwrap_err(),
            CodeRefused::Replayed(Some([7; 16]))
        );
        // Reported once: the family is revoked by then.
        assert!(matches!(
            state.redeem(&exchange(&code)).unwrap_err(),
            CodeRefused::Invalid(_)
        ));

        let code = state
            .issue(authorization, "bob", ApiScopes::ALL, None)
            .unwrap();
        let other_client = CodeExchange {
            client_id: "other",
            ..exchange(&code)
        };
        let CodeRefused::Invalid(refused) = state.redeem(&other_client).unwrap_err() else {
            panic!("a first exchange is not a replay");
        };
        assert_eq!(refused.code, ErrorCode::InvalidGrant);
        assert_eq!(state.recent_users(), ["bob", "alice"]);
    }

    #[test]
    fn recent_users_keep_the_last_five_without_repeats() {
        let state = FlowState::default();
        for name in ["a", "b", "c", "a", "d", "e", "f"] {
            state.remember(name);
        }
        assert_eq!(state.recent_users(), ["f", "e", "d", "a", "c"]);
    }

    #[test]
    fn a_resource_other_than_the_api_is_an_invalid_target() {
        let mut p = params();
        p.resource = Some("http://127.0.0.1:8080/".to_owned());
        let request = p.validate(OWN_PORT, Some(&api())).unwrap();
        assert_eq!(request.resource.as_deref(), Some("http://127.0.0.1:8080/"));
        for (other, served) in [
            ("https://evil.example/", Some(api())),
            ("http://127.0.0.1:8080/", None),
        ] {
            p.resource = Some(other.to_owned());
            let Err(AuthorizeError::Redirect { error, state, .. }) =
                p.validate(OWN_PORT, served.as_ref())
            else {
                panic!("expected a redirect with an error");
            };
            assert_eq!(error.code, ErrorCode::InvalidTarget);
            assert_eq!(state.as_deref(), Some("xyz"));
        }
    }

    #[test]
    fn a_code_grants_only_the_api_scopes_both_requested_and_ticked() {
        let state = FlowState::default();
        let mut p = params();
        p.scope = Some("openid quotes:read".to_owned());
        let authorization = p.validate(OWN_PORT, Some(&api())).unwrap();
        assert_eq!(
            authorization.requested_api_scopes(),
            ApiScopes::among("quotes:read")
        );
        let code = state
            .issue(authorization.clone(), "alice", ApiScopes::ALL, None)
            .unwrap();
        let grant = state.redeem(&exchange(&code)).unwrap();
        assert_eq!(grant.granted, ApiScopes::among("quotes:read"));
        let code = state
            .issue(
                authorization,
                "alice",
                ApiScopes::among("quotes:write"),
                None,
            )
            .unwrap();
        let grant = state.redeem(&exchange(&code)).unwrap();
        assert_eq!(grant.granted, ApiScopes::NONE);
    }
}
