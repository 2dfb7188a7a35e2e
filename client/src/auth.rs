//! Bearer tokens for the `/me` operations. A [`TokenSource`] is asked for a
//! token before each request; when the API refuses one as expired (problem
//! type [`EXPIRED_TOKEN`]), the source is asked once for a fresh token and
//! the request is sent again, once. A second refusal is the caller's to
//! see: there is no loop.
//!
//! Tokens from providers live minutes (Clerk's a minute, Keycloak's five by
//! default) and clocks drift, so a token can expire between being handed
//! out and reaching the API; a source that renews (a refresh token, Clerk's
//! `getToken({ skipCache: true })`) makes that invisible to the caller.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use progenitor_client::{ClientHooks, ClientInfo, Error, OperationInfo};
use reqwest::header::{AUTHORIZATION, HeaderValue};

use crate::Client;

/// The problem type of a token the API refused because it expired.
pub const EXPIRED_TOKEN: &str = "urn:quotes:problem:expired-token";

/// What a [`TokenSource`] hands back: a token, or why there is none.
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// Where bearer tokens come from.
pub trait TokenSource: Send + Sync {
    /// A token for the next request.
    fn token(&self) -> TokenFuture<'_>;

    /// A token other than the one the API just refused as expired; by
    /// default whatever [`token`](Self::token) gives now. A source that
    /// caches tokens renews here.
    fn fresh_token(&self) -> TokenFuture<'_> {
        self.token()
    }
}

/// One token, used as it is (for scripts: `quotes-api dev-token alice`).
#[derive(Clone)]
pub struct StaticToken(String);

impl StaticToken {
    /// The source that always gives `token`.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticToken(<redacted>)")
    }
}

impl TokenSource for StaticToken {
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(std::future::ready(Ok(self.0.clone())))
    }
}

/// The client's own state: where its tokens come from, if anywhere.
#[derive(Clone, Default)]
pub struct Bearer {
    source: Option<Arc<dyn TokenSource>>,
}

impl Bearer {
    /// No tokens: public operations, or a `reqwest::Client` that sends its
    /// own `Authorization` header.
    pub fn none() -> Self {
        Self::default()
    }

    /// Tokens from `source`.
    pub fn from_source(source: impl TokenSource + 'static) -> Self {
        Self {
            source: Some(Arc::new(source)),
        }
    }
}

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bearer")
            .field("source", &self.source.is_some())
            .finish()
    }
}

impl Client {
    /// A client for the API at `baseurl` whose requests carry tokens from
    /// `source`, renewed and retried once when the API says one expired.
    pub fn with_token_source(baseurl: &str, source: impl TokenSource + 'static) -> Self {
        Self::new(baseurl, Bearer::from_source(source))
    }
}

impl ClientHooks<Bearer> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        if let Some(source) = &self.inner().source {
            let token = source.token().await.map_err(Error::Custom)?;
            set_bearer(request, &token).map_err(Error::Custom)?;
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        _info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(source) = &self.inner().source {
            return renew_once_if_expired(self.client(), source.as_ref(), request).await;
        }
        self.client().execute(request).await
    }
}

fn set_bearer(request: &mut reqwest::Request, token: &str) -> Result<(), String> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| "the token is not a valid header value".to_owned())?;
    value.set_sensitive(true);
    request.headers_mut().insert(AUTHORIZATION, value);
    Ok(())
}

/// Sends `request`; when the API refuses its token as expired, sends it
/// once more with a fresh token. Any other answer, or a second refusal,
/// comes back as it is. (In the browser the app renews on its own.)
#[cfg(not(target_arch = "wasm32"))]
async fn renew_once_if_expired(
    client: &reqwest::Client,
    source: &dyn TokenSource,
    request: reqwest::Request,
) -> reqwest::Result<reqwest::Response> {
    // A streamed body cannot be sent twice; such a request is sent once.
    let again = request.try_clone();
    let response = client.execute(request).await?;
    let Some(mut again) = again else {
        return Ok(response);
    };
    if response.status() != reqwest::StatusCode::UNAUTHORIZED {
        return Ok(response);
    }
    let status = response.status();
    let version = response.version();
    let headers = response.headers().clone();
    let body = response.bytes().await?;
    if is_expired_token(&body)
        && let Ok(token) = source.fresh_token().await
        && set_bearer(&mut again, &token).is_ok()
    {
        return client.execute(again).await;
    }
    // The refusal, as it came, for the caller to read.
    let mut refusal = http::Response::new(body);
    *refusal.status_mut() = status;
    *refusal.version_mut() = version;
    *refusal.headers_mut() = headers;
    Ok(reqwest::Response::from(refusal))
}

/// Whether a 401's body is the API's problem for an expired token.
#[cfg(any(test, not(target_arch = "wasm32")))]
fn is_expired_token(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|problem| {
            problem
                .get("type")?
                .as_str()
                .map(|kind| kind == EXPIRED_TOKEN)
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_expired_token_problem_is_renewed() {
        assert!(is_expired_token(
            br#"{"type":"urn:quotes:problem:expired-token","status":401}"#
        ));
        for other in [
            &br#"{"type":"urn:quotes:problem:invalid-token","status":401}"#[..],
            br#"{"type":"urn:quotes:problem:missing-token"}"#,
            b"not json",
            b"",
        ] {
            assert!(
                !is_expired_token(other),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn tokens_never_show_in_debug_output() {
        let token = StaticToken::new("eyJ.secret.token");
        assert!(!format!("{token:?}").contains("secret"));
        let bearer = Bearer::from_source(token);
        assert!(!format!("{bearer:?}").contains("secret"));
    }
}
