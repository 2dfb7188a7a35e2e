//! OpenID Connect in the browser: the authorization-code flow with PKCE
//! (S256). The verifier, state and nonce live in `sessionStorage` only for
//! the redirect round trip; the tokens live in memory only
//! ([`OidcTokens`], which also renews them).
//!
//! A reload keeps the person signed in without keeping a token: while the
//! tab is signed in it carries a marker in `sessionStorage`
//! ([`crate::storage`]), and a page load that finds it asks the provider
//! again with `prompt=none`. A provider that still has its own session
//! answers with a code at once; one that has none answers
//! `login_required`, and the app shows the signed-out page. The marker is
//! removed before every such answer is acted on, so this happens once per
//! page load and never loops.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::oidc_tokens::{
    OidcTokens, TokenEndpoint, TokenResponse, jwt_claims, now_ms, service_unreachable,
};
use super::{Session, TokenSource};
use crate::http;
use crate::location::app_base;
use crate::storage::{self, PENDING_SIGN_IN};

/// What the app needs from an OpenID provider: `config.json`'s provider
/// when its `kind` is `oidc`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OidcSettings {
    /// The provider's issuer URL; discovery starts there.
    pub issuer: String,
    /// This app's client id at the provider.
    pub client_id: String,
    /// Space-separated scopes to ask for.
    pub scopes: String,
    /// Sent as `audience` when the provider wants one to issue an access
    /// token for the API (Auth0 does).
    #[serde(default)]
    pub audience: Option<String>,
}

/// The parts of the discovery document the app uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

/// A sign-in between leaving for the provider and coming back.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
    /// A `prompt=none` attempt to restore the session after a reload.
    #[serde(default)]
    silent: bool,
}

/// How a page load starts, as far as the provider is concerned.
#[derive(Debug)]
pub enum Start {
    /// Back from the provider with a code: signed in.
    SignedIn(Session),
    /// Nobody; with a notice when something went wrong.
    SignedOut(Option<String>),
    /// On the way to the provider to restore the session (`prompt=none`).
    Restoring,
}

/// Whether the provider asks a person to sign in, say, rather than
/// reporting a fault: after `prompt=none` that just means "signed out".
fn needs_a_person(error: &str) -> bool {
    matches!(
        error,
        "login_required"
            | "interaction_required"
            | "consent_required"
            | "account_selection_required"
    )
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    iss: String,
    sub: String,
    #[serde(default, deserialize_with = "audience")]
    aud: Vec<String>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// Fetches `{issuer}/.well-known/openid-configuration`.
pub async fn discover(issuer: &str) -> Result<Discovery, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let answer = http::get(&url).await.map_err(service_unreachable)?;
    if !answer.status().is_success() {
        return Err(format!(
            "The sign-in service answered {} to discovery.",
            answer.status()
        ));
    }
    let discovery: Discovery = answer
        .json()
        .map_err(|e| format!("The sign-in service's discovery is unreadable ({e})."))?;
    if discovery.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err("The sign-in service names another issuer than configured.".to_owned());
    }
    Ok(discovery)
}

/// Leaves for the provider's sign-in page.
pub async fn begin_sign_in(settings: &OidcSettings) -> Result<(), String> {
    begin(settings, false).await
}

/// Leaves for the provider: to its sign-in page, or `silent`ly with
/// `prompt=none` (the provider answers at once, with a code or an error).
/// Scopes are the configured ones: `offline_access` (which some providers
/// want before they give a refresh token) only when they include it.
async fn begin(settings: &OidcSettings, silent: bool) -> Result<(), String> {
    let discovery = discover(&settings.issuer).await?;
    let pending = Pending {
        state: random_token()?,
        nonce: random_token()?,
        verifier: random_token()?,
        silent,
    };
    let mut query = vec![
        ("response_type", "code".to_owned()),
        ("client_id", settings.client_id.clone()),
        ("redirect_uri", app_base()),
        ("scope", settings.scopes.clone()),
        ("state", pending.state.clone()),
        ("nonce", pending.nonce.clone()),
        ("code_challenge", challenge(&pending.verifier).await?),
        ("code_challenge_method", "S256".to_owned()),
    ];
    if let Some(audience) = &settings.audience {
        query.push(("audience", audience.clone()));
    }
    if silent {
        query.push(("prompt", "none".to_owned()));
    }
    let saved = crate::json::to_string(&pending)?;
    storage::set(PENDING_SIGN_IN, &saved)?;
    navigate(&with_query(&discovery.authorization_endpoint, &query))
}

/// What this page load is: the provider's answer (finished here), a
/// reload of a signed-in tab (off to the provider with `prompt=none`), or
/// neither (signed out). The signed-in marker is set after a sign-in and
/// removed on every failure, so a failed restore is not tried again.
pub async fn start(settings: &OidcSettings) -> Start {
    if let Some(params) = callback_params() {
        return match complete_sign_in(settings, &params).await {
            Ok(session) => {
                storage::set_signed_in_marker(true);
                Start::SignedIn(session)
            }
            Err(failure) => {
                storage::set_signed_in_marker(false);
                Start::SignedOut(failure.notice)
            }
        };
    }
    if !storage::signed_in_marker() {
        return Start::SignedOut(None);
    }
    // A silent attempt that never came back (a provider that showed a page
    // after all, and the person went back): do not try again.
    let earlier =
        storage::get(PENDING_SIGN_IN).and_then(|raw| crate::json::from_str::<Pending>(&raw).ok());
    if earlier.is_some_and(|pending| pending.silent) {
        storage::remove(PENDING_SIGN_IN);
        storage::set_signed_in_marker(false);
        return Start::SignedOut(None);
    }
    match begin(settings, true).await {
        Ok(()) => Start::Restoring,
        Err(message) => {
            storage::set_signed_in_marker(false);
            Start::SignedOut(Some(message))
        }
    }
}

/// Signed out (or the session ended): a reload stays signed out.
pub fn forget_session() {
    storage::set_signed_in_marker(false);
}

/// A sign-in that did not complete, and what to tell the person (nothing
/// when a silent attempt only found that nobody is signed in).
#[derive(Debug)]
struct Failure {
    notice: Option<String>,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self {
            notice: Some(message),
        }
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Self::from(message.to_owned())
    }
}

/// Finishes a sign-in: the provider sent the browser back here with
/// `params`.
async fn complete_sign_in(
    settings: &OidcSettings,
    params: &CallbackParams,
) -> Result<Session, Failure> {
    let pending = storage::get(PENDING_SIGN_IN);
    // The verifier is single use, whatever happens next.
    storage::remove(PENDING_SIGN_IN);
    clean_address();
    let pending: Pending = pending
        .and_then(|raw| crate::json::from_str(&raw).ok())
        .ok_or("This sign-in was not started here (or it was already used); sign in again.")?;
    if params.get("state").as_deref() != Some(pending.state.as_str()) {
        return Err("The sign-in answer does not match the request; sign in again.".into());
    }
    if let Some(error) = params.get("error") {
        if pending.silent && needs_a_person(&error) {
            return Err(Failure { notice: None });
        }
        let description = params.get("error_description").unwrap_or(error);
        return Err(format!("Sign-in failed: {description}.").into());
    }
    let code = params
        .get("code")
        .ok_or("The sign-in answer has no code.")?;
    let discovery = discover(&settings.issuer).await?;
    let form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code),
        ("redirect_uri", app_base()),
        ("client_id", settings.client_id.clone()),
        ("code_verifier", pending.verifier.clone()),
    ];
    let requested_at = now_ms();
    let answer = http::post_form(&discovery.token_endpoint, form)
        .await
        .map_err(service_unreachable)?;
    if !answer.status().is_success() {
        return Err(format!(
            "The sign-in service refused the code ({}); sign in again.",
            answer.status()
        )
        .into());
    }
    let tokens: TokenResponse = answer
        .json()
        .map_err(|e| format!("The sign-in service's answer is unreadable ({e})."))?;
    let id_token = tokens
        .id_token
        .clone()
        .ok_or("The sign-in service sent no ID token.")?;
    let claims = id_claims(&id_token)?;
    check_id_claims(&claims, settings, &pending.nonce)?;
    let endpoint = TokenEndpoint {
        url: discovery.token_endpoint,
        client_id: settings.client_id.clone(),
    };
    let token_source =
        TokenSource::Oidc(OidcTokens::new(endpoint, &claims.sub, tokens, requested_at));
    Ok(Session {
        name: claims
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| claims.sub.clone()),
        user_id: claims.sub,
        token_source,
        id_token: Some(id_token),
    })
}

/// Where to send the browser to end the provider's session, if it says.
pub async fn sign_out_url(settings: &OidcSettings, id_token: Option<&str>) -> Option<String> {
    let discovery = discover(&settings.issuer).await.ok()?;
    let endpoint = discovery.end_session_endpoint?;
    let mut query = vec![
        ("client_id", settings.client_id.clone()),
        ("post_logout_redirect_uri", app_base()),
    ];
    if let Some(token) = id_token {
        query.push(("id_token_hint", token.to_owned()));
    }
    Some(with_query(&endpoint, &query))
}

/// The claims of an ID token. Its signature is the provider's business
/// with the API; the app reads it only to check nonce, issuer and
/// audience and to show who signed in.
fn id_claims(token: &str) -> Result<IdClaims, String> {
    jwt_claims(token).ok_or_else(|| "The ID token is malformed.".to_owned())
}

/// `aud`: one audience, or a list of them (OpenID Connect Core §2).
fn audience<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    struct Audience;

    impl<'de> serde::de::Visitor<'de> for Audience {
        type Value = Vec<String>;

        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("a string or a list of strings")
        }

        fn visit_str<E>(self, audience: &str) -> Result<Self::Value, E> {
            Ok(vec![audience.to_owned()])
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut audiences = Vec::new();
            while let Some(audience) = seq.next_element()? {
                audiences.push(audience);
            }
            Ok(audiences)
        }
    }

    deserializer.deserialize_any(Audience)
}

fn check_id_claims(claims: &IdClaims, settings: &OidcSettings, nonce: &str) -> Result<(), String> {
    if claims.nonce.as_deref() != Some(nonce) {
        return Err("The ID token does not answer this sign-in (nonce); sign in again.".to_owned());
    }
    if claims.iss.trim_end_matches('/') != settings.issuer.trim_end_matches('/') {
        return Err("The ID token comes from another issuer.".to_owned());
    }
    if claims.aud.contains(&settings.client_id) {
        Ok(())
    } else {
        Err("The ID token is addressed to another client.".to_owned())
    }
}

/// BASE64URL(SHA256(verifier)), RFC 7636, hashed by the browser's Web
/// Crypto (which pages have only in a secure context: https, or
/// localhost).
pub async fn challenge(verifier: &str) -> Result<String, String> {
    const NO_CRYPTO: &str = "Signing in needs the page served over https (or from localhost): \
                             this browser offers no Web Crypto here.";
    let subtle = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .ok_or(NO_CRYPTO)?
        .subtle();
    let digest = subtle
        .digest_with_str_and_u8_array("SHA-256", verifier.as_bytes())
        .map_err(|_| NO_CRYPTO)?;
    let digest = JsFuture::from(digest).await.map_err(|_| NO_CRYPTO)?;
    Ok(Base64UrlUnpadded::encode_string(
        &js_sys::Uint8Array::new(&digest).to_vec(),
    ))
}

/// 32 random bytes, base64url: 43 characters.
fn random_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    web_sys::window()
        .and_then(|w| w.crypto().ok())
        .ok_or("This browser has no Web Crypto.")?
        .get_random_values_with_u8_array(&mut bytes)
        .map_err(|_| "This browser's random numbers are unavailable.")?;
    Ok(Base64UrlUnpadded::encode_string(&bytes))
}

fn with_query(endpoint: &str, pairs: &[(&str, String)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .map(|(key, value)| {
            format!(
                "{key}={}",
                String::from(js_sys::encode_uri_component(value))
            )
        })
        .collect();
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    format!("{endpoint}{separator}{}", query.join("&"))
}

/// The query of this page's address, when it is a provider's answer.
struct CallbackParams(web_sys::UrlSearchParams);

impl CallbackParams {
    fn get(&self, key: &str) -> Option<String> {
        self.0.get(key)
    }
}

fn callback_params() -> Option<CallbackParams> {
    let search = web_sys::window()?.location().search().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    let answer = params.has("state") && (params.has("code") || params.has("error"));
    answer.then_some(CallbackParams(params))
}

/// Takes the code and state out of the address bar and history.
fn clean_address() {
    if let Some(window) = web_sys::window()
        && let Ok(history) = window.history()
    {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&app_base()));
    }
}

fn navigate(url: &str) -> Result<(), String> {
    web_sys::window()
        .ok_or("no window")?
        .location()
        .assign(url)
        .map_err(|_| "The browser refused to open the sign-in page.".to_owned())
}

#[cfg(test)]
mod tests {
    use super::{OidcSettings, check_id_claims, id_claims, needs_a_person};
    use crate::auth::oidc_tokens::tests::jwt as id_token;

    fn settings() -> OidcSettings {
        OidcSettings {
            issuer: "https://id.example.test/".to_owned(),
            client_id: "quotes-web".to_owned(),
            scopes: "openid".to_owned(),
            audience: None,
        }
    }

    #[test]
    fn the_audience_may_be_one_client_or_a_list() {
        let settings = settings();
        for (aud, ours) in [
            (r#""quotes-web""#, true),
            (r#"["api", "quotes-web"]"#, true),
            (r#""someone-else""#, false),
            (r#"["api"]"#, false),
            ("[]", false),
        ] {
            let token = id_token(&format!(
                r#"{{"iss": "https://id.example.test", "sub": "u1", "aud": {aud}, "nonce": "n1"}}"#
            ));
            let claims = id_claims(&token).expect("readable claims");
            assert_eq!(
                check_id_claims(&claims, &settings, "n1").is_ok(),
                ours,
                "{aud}"
            );
        }
        let claims = id_claims(&id_token(
            r#"{"iss": "https://id.example.test", "sub": "u1", "aud": "quotes-web", "nonce": "n1"}"#,
        ))
        .expect("readable claims");
        assert!(
            check_id_claims(&claims, &settings, "n2").is_err(),
            "another nonce"
        );
        assert!(
            id_claims(&id_token(r#"{"aud": 7}"#)).is_err(),
            "no issuer, an odd audience"
        );
        assert!(id_claims("not-a-jwt").is_err());
    }

    #[test]
    fn only_a_request_for_a_person_is_a_quiet_sign_out() {
        assert!(needs_a_person("login_required"));
        assert!(needs_a_person("interaction_required"));
        assert!(!needs_a_person("invalid_request"));
        assert!(!needs_a_person("server_error"));
    }
}
