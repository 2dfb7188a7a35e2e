//! Where the commands' access tokens come from: `QUOTES_TOKEN` as it is,
//! or the remembered sign-in, renewed with its refresh token when the
//! access token is within [`SKEW`] of its expiry (or the API said it
//! expired: [`quotes_client::auth`] asks once more).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use quotes_client::auth::{TokenFuture, TokenSource};
use tokio::sync::Mutex;

use crate::failure::{Failure, not_signed_in};
use crate::oauth;
use crate::store::{Secrets, Session, Store};

/// How long before its expiry an access token is renewed: clocks drift,
/// and a request takes time to arrive.
pub const SKEW: Duration = Duration::from_secs(60);

/// The tokens a command uses.
pub enum Tokens {
    /// `QUOTES_TOKEN`: used as it is, never renewed.
    Fixed(String),
    /// The remembered sign-in.
    SignedIn(Box<SignedIn>),
}

/// A remembered sign-in and its tokens.
#[derive(Debug)]
pub struct SignedIn {
    store: Store,
    http: reqwest::Client,
    state: Mutex<(Session, Secrets)>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(_) => f.write_str("Tokens::Fixed(<redacted>)"),
            Self::SignedIn(signed_in) => {
                f.debug_tuple("Tokens::SignedIn").field(signed_in).finish()
            }
        }
    }
}

impl Tokens {
    /// `QUOTES_TOKEN` when set, else the sign-in to `api`.
    pub fn for_api(store: &Store, http: &reqwest::Client, api: &str) -> Result<Self, Failure> {
        if let Some(token) = std::env::var("QUOTES_TOKEN")
            .ok()
            .filter(|token| !token.trim().is_empty())
        {
            return Ok(Self::Fixed(token.trim().to_owned()));
        }
        let session = store.session(api).ok_or_else(not_signed_in)?;
        let secrets = store.secrets(&session).ok_or_else(|| {
            Failure::NotSignedIn(
                "the sign-in's tokens are gone from the credential store: run `quotes login`"
                    .to_owned(),
            )
        })?;
        Ok(Self::SignedIn(Box::new(SignedIn {
            store: store.clone(),
            http: http.clone(),
            state: Mutex::new((session, secrets)),
        })))
    }

    /// An access token good for a while yet.
    pub async fn access_token(&self) -> Result<String, Failure> {
        match self {
            Self::Fixed(token) => Ok(token.clone()),
            Self::SignedIn(signed_in) => signed_in.access_token(false).await,
        }
    }

    /// The sign-in, when the tokens come from one.
    pub async fn session(&self) -> Option<Session> {
        match self {
            Self::Fixed(_) => None,
            Self::SignedIn(signed_in) => Some(signed_in.state.lock().await.0.clone()),
        }
    }
}

impl SignedIn {
    async fn access_token(&self, force: bool) -> Result<String, Failure> {
        let mut state = self.state.lock().await;
        let (session, secrets) = &mut *state;
        if !force && unix_now() + SKEW.as_secs() < session.access_expires_at {
            return Ok(secrets.access_token.clone());
        }
        let _renewing = self.store.lock_renewal()?;
        // Another process may have renewed while this one waited: its
        // tokens are the ones to use, or to renew with.
        let refused = secrets.access_token.clone();
        if let Some(latest) = self.store.session(&session.api)
            && let Some(latest_secrets) = self.store.secrets(&latest)
            && latest_secrets.refresh_token != secrets.refresh_token
        {
            *session = latest;
            *secrets = latest_secrets;
            let fresh = unix_now() + SKEW.as_secs() < session.access_expires_at;
            if fresh && (!force || secrets.access_token != refused) {
                return Ok(secrets.access_token.clone());
            }
        }
        let Some(refresh_token) = secrets.refresh_token.clone() else {
            return Err(Failure::NotSignedIn(
                "the access token expired and the provider gave no refresh token: run `quotes login`"
                    .to_owned(),
            ));
        };
        let answer = oauth::refresh(
            &self.http,
            &session.token_endpoint,
            &session.client_id,
            &refresh_token,
        )
        .await?
        .map_err(|error| {
            Failure::NotSignedIn(format!(
                "the sign-in has ended ({error}): run `quotes login`"
            ))
        })?;
        session.access_expires_at = expiry(answer.expires_in, &answer.access_token);
        if let Some(scope) = answer.scope {
            session.scope = scope;
        }
        secrets.access_token = answer.access_token;
        if answer.refresh_token.is_some() {
            secrets.refresh_token = answer.refresh_token;
        }
        self.store.renewed(session, secrets)?;
        Ok(secrets.access_token.clone())
    }
}

/// The tokens, shared between a command and its API client.
#[derive(Debug, Clone)]
pub struct SharedTokens(pub std::sync::Arc<Tokens>);

impl TokenSource for SharedTokens {
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(async move { self.0.access_token().await.map_err(|e| e.to_string()) })
    }

    fn fresh_token(&self) -> TokenFuture<'_> {
        Box::pin(async move {
            match &*self.0 {
                Tokens::Fixed(token) => Ok(token.clone()),
                Tokens::SignedIn(signed_in) => signed_in
                    .access_token(true)
                    .await
                    .map_err(|e| e.to_string()),
            }
        })
    }
}

/// When a token given now expires: `expires_in` from now, else the
/// token's own `exp`, else now (so it is renewed at the next use).
pub fn expiry(expires_in: Option<u64>, access_token: &str) -> u64 {
    expires_in
        .map(|seconds| unix_now() + seconds)
        .or_else(|| {
            claims(access_token)
                .and_then(|claims| claims.get("exp").and_then(serde_json::Value::as_u64))
        })
        .unwrap_or_else(unix_now)
}

/// The claims of a JWT, decoded without checking its signature: for
/// showing, never for trusting.
pub fn claims(token: &str) -> Option<serde_json::Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Seconds since 1970.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_token_never_shows_in_debug_output() {
        let tokens = SharedTokens(std::sync::Arc::new(Tokens::Fixed("eyJ.secret".to_owned())));
        assert!(!format!("{tokens:?}").contains("secret"));
    }

    #[test]
    fn claims_are_read_without_verifying() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"alice","exp":42}"#);
        let token = format!("e30.{payload}.sig");
        assert_eq!(claims(&token).unwrap()["sub"], "alice");
        assert_eq!(expiry(None, &token), 42);
        assert_eq!(claims("not a token"), None);
    }
}
