//! The key store: the provider's signing keys, fetched from its JWKS
//! endpoint, cached by `kid` and kept fresh.
//!
//! - Keys are refreshed in the background on the provider's `Cache-Control:
//!   max-age` (clamped), retried with back-off until the first load.
//! - A token with an unknown `kid` triggers at most one refresh at a time;
//!   requests that arrive meanwhile share it. Such on-demand refreshes are
//!   at most one per cooldown window, and none starts within the cooldown
//!   after a failed attempt, so neither a flood of made-up key ids nor a
//!   provider outage turns into a flood of fetches.
//! - Every fetch is bounded in time and size; a failed refresh (a JWKS
//!   document with no usable key included) keeps the keys we had, so a
//!   provider outage does not stop known keys working.
//! - Keys travel over `https` only, except from a loopback host (a local
//!   Keycloak, the development provider, tests); a redirect from `https` to
//!   `http` is refused, and discovery must name the configured issuer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CACHE_CONTROL};
use serde::Deserialize;
use url::Url;

use super::jwks::{self, KeySet, VerifyingKey};

/// Timing and size limits of the key store.
#[derive(Debug, Clone)]
pub struct KeyStoreSettings {
    /// Upper bound for one refresh (discovery and JWKS together).
    pub fetch_timeout: Duration,
    /// Least time between two refreshes triggered by unknown key ids.
    pub cooldown: Duration,
    /// Refresh interval when the provider sends no `max-age`.
    pub default_max_age: Duration,
    /// Bounds applied to the provider's `max-age`.
    pub min_max_age: Duration,
    pub max_max_age: Duration,
    /// Longest wait between retries while no key was ever loaded.
    pub max_retry_delay: Duration,
    /// Largest JWKS or discovery document read.
    pub max_body_bytes: usize,
}

impl Default for KeyStoreSettings {
    fn default() -> Self {
        Self {
            fetch_timeout: Duration::from_secs(5),
            cooldown: Duration::from_secs(30),
            default_max_age: Duration::from_secs(600),
            min_max_age: Duration::from_secs(60),
            max_max_age: Duration::from_secs(24 * 3600),
            max_retry_delay: Duration::from_secs(30),
            max_body_bytes: 512 * 1024,
        }
    }
}

/// Why no key could be returned for a `kid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The provider does not publish this key.
    Unknown,
    /// No key was ever loaded, so nothing can be said about any token.
    Unavailable,
}

/// Shared handle to one issuer's keys.
#[derive(Debug, Clone)]
pub struct KeyStore {
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    /// Fetched from the provider and kept fresh.
    Remote(Arc<Inner>),
    /// Configured up front (Clerk's PEM key): it verifies every `kid`, as
    /// Clerk's SDK does, and nothing is ever fetched.
    Fixed(Arc<VerifyingKey>),
}

#[derive(Debug)]
struct Inner {
    /// The issuer as tokens carry it, which discovery must repeat.
    exact_issuer: String,
    /// The issuer without a trailing slash, for building its URLs.
    issuer: String,
    configured_url: Option<Url>,
    http: reqwest::Client,
    settings: KeyStoreSettings,
    keys: RwLock<Arc<KeySet>>,
    /// Count of finished refresh attempts, successful or not.
    attempts: AtomicU64,
    refresh: tokio::sync::Mutex<RefreshState>,
}

#[derive(Debug, Default)]
struct RefreshState {
    last_on_demand: Option<Instant>,
    last_failure: Option<Instant>,
    /// Where the keys are, once discovery has answered.
    jwks_url: Option<Url>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Schedule,
    UnknownKid,
}

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("request to {url} failed: {message}")]
    Http { url: String, message: String },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url} sent more than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: {source}")]
    Document {
        url: String,
        source: jwks::JwksError,
    },
    #[error("gave up after {0:?}")]
    Timeout(Duration),
    #[error("{url}: {message}")]
    Discovery { url: String, message: String },
    #[error("{url}: keys are fetched over https only, except from a loopback host")]
    Insecure { url: String },
}

impl KeyStore {
    /// A store for `issuer`'s keys, at `jwks_url` or wherever discovery says.
    /// Nothing is fetched until [`KeyStore::start`] or the first lookup.
    pub fn new(issuer: &str, jwks_url: Option<Url>, settings: KeyStoreSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(settings.fetch_timeout)
            .connect_timeout(settings.fetch_timeout)
            .redirect(reqwest::redirect::Policy::custom(
                |attempt| match redirect_refusal(attempt.previous(), attempt.url()) {
                    Some(reason) => attempt.error(reason),
                    None => attempt.follow(),
                },
            ))
            .user_agent(concat!("quotes-api/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            source: Source::Remote(Arc::new(Inner {
                exact_issuer: issuer.to_owned(),
                issuer: issuer.trim_end_matches('/').to_owned(),
                configured_url: jwks_url,
                http,
                settings,
                keys: RwLock::new(Arc::new(KeySet::default())),
                attempts: AtomicU64::new(0),
                refresh: tokio::sync::Mutex::new(RefreshState::default()),
            })),
        }
    }

    /// A store holding one key that is never refreshed.
    pub fn fixed(key: Arc<VerifyingKey>) -> Self {
        Self {
            source: Source::Fixed(key),
        }
    }

    /// Starts the background refresh; it ends when the last handle is dropped.
    pub fn start(&self) {
        if let Source::Remote(inner) = &self.source {
            tokio::spawn(refresh_loop(Arc::downgrade(inner)));
        }
    }

    /// Whether any key is loaded.
    pub fn is_loaded(&self) -> bool {
        match &self.source {
            Source::Remote(inner) => !inner.current().is_empty(),
            Source::Fixed(_) => true,
        }
    }

    /// Whether `key` is still the one published under `kid`, without any
    /// refresh: a key the provider removed stops vouching for tokens.
    pub fn still_publishes(&self, kid: &str, key: &Arc<VerifyingKey>) -> bool {
        match &self.source {
            Source::Remote(inner) => inner
                .current()
                .get(kid)
                .is_some_and(|current| Arc::ptr_eq(current, key)),
            Source::Fixed(fixed) => Arc::ptr_eq(fixed, key),
        }
    }

    /// The key with this id, refreshing once if it is not known yet.
    pub async fn key(&self, kid: &str) -> Result<Arc<VerifyingKey>, KeyError> {
        let inner = match &self.source {
            Source::Remote(inner) => inner,
            Source::Fixed(key) => return Ok(key.clone()),
        };
        if let Some(key) = inner.current().get(kid) {
            return Ok(key.clone());
        }
        // Failures are logged inside; the lookup below tells the outcome.
        let _ = inner.refresh(Trigger::UnknownKid).await;
        let keys = inner.current();
        match keys.get(kid) {
            Some(key) => Ok(key.clone()),
            None if keys.is_empty() => Err(KeyError::Unavailable),
            None => Err(KeyError::Unknown),
        }
    }
}

async fn refresh_loop(weak: Weak<Inner>) {
    let mut retry_delay = Duration::from_millis(500);
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let delay = match inner.refresh(Trigger::Schedule).await {
            Some(Ok(max_age)) => {
                retry_delay = Duration::from_millis(500);
                max_age
            }
            _ if !inner.current().is_empty() => inner.settings.cooldown,
            _ => {
                let delay = retry_delay;
                retry_delay = (retry_delay * 2).min(inner.settings.max_retry_delay);
                delay
            }
        };
        drop(inner);
        tokio::time::sleep(delay).await;
    }
}

impl Inner {
    fn current(&self) -> Arc<KeySet> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// One refresh, unless another just happened. `None` when skipped;
    /// otherwise how long the new keys may be cached, or why it failed.
    async fn refresh(&self, trigger: Trigger) -> Option<Result<Duration, FetchError>> {
        let seen = self.attempts.load(Ordering::Acquire);
        let mut state = self.refresh.lock().await;
        if trigger == Trigger::UnknownKid {
            if self.attempts.load(Ordering::Acquire) != seen {
                return None; // a refresh finished while we waited: share it
            }
            let cooling =
                |at: Option<Instant>| at.is_some_and(|at| at.elapsed() < self.settings.cooldown);
            if cooling(state.last_on_demand) || cooling(state.last_failure) {
                return None;
            }
            state.last_on_demand = Some(Instant::now());
        }
        let timeout = self.settings.fetch_timeout;
        let outcome = match tokio::time::timeout(timeout, self.fetch(&mut state)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(FetchError::Timeout(timeout)),
        };
        let outcome = outcome.map(|(keys, max_age)| {
            tracing::info!(issuer = %self.issuer, keys = keys.len(), "signing keys loaded");
            *self
                .keys
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(keys);
            max_age
        });
        crate::metrics::record_jwks_refresh(
            match trigger {
                Trigger::Schedule => "schedule",
                Trigger::UnknownKid => "unknown_kid",
            },
            outcome.is_ok(),
        );
        if let Err(error) = &outcome {
            state.last_failure = Some(Instant::now());
            tracing::warn!(issuer = %self.issuer, %error, "cannot refresh signing keys; keeping the ones we have");
        }
        self.attempts.fetch_add(1, Ordering::AcqRel);
        Some(outcome)
    }

    async fn fetch(&self, state: &mut RefreshState) -> Result<(KeySet, Duration), FetchError> {
        let url = match (&self.configured_url, &state.jwks_url) {
            (Some(url), _) | (None, Some(url)) => url.clone(),
            (None, None) => {
                let url = self.discover().await?;
                state.jwks_url = Some(url.clone());
                url
            }
        };
        let (body, max_age) = self.get(&url).await?;
        let keys = jwks::parse(&body).map_err(|source| FetchError::Document {
            url: url.to_string(),
            source,
        })?;
        Ok((keys, max_age.unwrap_or(self.settings.default_max_age)))
    }

    /// OpenID discovery: the `jwks_uri` of the issuer's configuration, or
    /// the conventional `/.well-known/jwks.json` when there is none. A
    /// network failure is an error, so discovery is tried again next time.
    async fn discover(&self) -> Result<Url, FetchError> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: Option<String>,
            jwks_uri: Option<String>,
        }
        let well_known = |path: &str| {
            let raw = format!("{}/.well-known/{path}", self.issuer);
            Url::parse(&raw).map_err(|e| FetchError::Http {
                url: raw,
                message: e.to_string(),
            })
        };
        let discovery_url = well_known("openid-configuration")?;
        let found = match self.get(&discovery_url).await {
            Ok((body, _)) => {
                let refused = |message: String| FetchError::Discovery {
                    url: discovery_url.to_string(),
                    message,
                };
                let doc: Discovery = serde_json::from_slice(&body)
                    .map_err(|e| refused(format!("not a discovery document ({e})")))?;
                // OpenID Connect Discovery §4.3: the document must name
                // exactly the issuer it was fetched for.
                if doc.issuer.as_deref() != Some(self.exact_issuer.as_str()) {
                    return Err(refused(format!(
                        "names the issuer {:?}, not {:?}",
                        doc.issuer.unwrap_or_default(),
                        self.exact_issuer
                    )));
                }
                match doc.jwks_uri {
                    Some(uri) => Some(
                        Url::parse(&uri)
                            .map_err(|e| refused(format!("jwks_uri is not a URL ({e})")))?,
                    ),
                    None => None,
                }
            }
            Err(FetchError::Status { .. } | FetchError::TooLarge { .. }) => None,
            Err(other) => return Err(other),
        };
        let url = match found {
            Some(url) => url,
            None => well_known("jwks.json")?,
        };
        tracing::info!(issuer = %self.issuer, jwks_url = %url, "signing keys will be fetched from here");
        Ok(url)
    }

    async fn get(&self, url: &Url) -> Result<(Vec<u8>, Option<Duration>), FetchError> {
        if !is_secure_source(url) {
            return Err(FetchError::Insecure {
                url: url.to_string(),
            });
        }
        let http_error = |e: reqwest::Error| FetchError::Http {
            url: url.to_string(),
            message: error_chain(&e.without_url()),
        };
        let mut response = self
            .http
            .get(url.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(http_error)?;
        if !response.status().is_success() {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: response.status().as_u16(),
            });
        }
        let max_age = response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .and_then(max_age)
            .map(|age| age.clamp(self.settings.min_max_age, self.settings.max_max_age));
        let limit = self.settings.max_body_bytes;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http_error)? {
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge {
                    url: url.to_string(),
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, max_age))
    }
}

/// Why a redirect from the chain `previous` to `next` is not followed, if
/// it is not: more than 3 hops, `https` to plain `http`, or to a plain
/// `http` address off this machine.
fn redirect_refusal(previous: &[Url], next: &Url) -> Option<&'static str> {
    let from_https = previous.last().is_some_and(|url| url.scheme() == "https");
    if previous.len() > 3 {
        Some("more than 3 redirects")
    } else if from_https && next.scheme() != "https" {
        Some("refused a redirect from https to plain http")
    } else if !is_secure_source(next) {
        Some("refused a redirect to plain http")
    } else {
        None
    }
}

/// Whether keys may be fetched from `url`: over `https`, or from this
/// machine, where nobody sits between us and the provider.
pub fn is_secure_source(url: &Url) -> bool {
    url.scheme() == "https" || (url.scheme() == "http" && is_loopback_host(url))
}

/// Whether `url` names this machine: `localhost`, 127.0.0.0/8 or `[::1]`.
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// An error with its causes, which reqwest keeps out of its own message.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// `max-age` from a `Cache-Control` value; `no-cache`/`no-store` count as 0.
fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control
        .split(',')
        .map(str::trim)
        .find_map(|directive| {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-cache" || lower == "no-store" {
                return Some(Duration::ZERO);
            }
            lower
                .strip_prefix("max-age=")
                .and_then(|secs| secs.trim_matches('"').parse().ok())
                .map(Duration::from_secs)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            max_age("Max-Age=\"60\", must-revalidate"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }

    #[test]
    fn redirects_never_downgrade_to_plain_http() {
        let url = |raw: &str| Url::parse(raw).unwrap();
        let https = [url("https://id.example.com/.well-known/jwks.json")];
        assert_eq!(
            redirect_refusal(&https, &url("https://keys.example.com/jwks.json")),
            None
        );
        assert!(redirect_refusal(&https, &url("http://keys.example.com/jwks.json")).is_some());
        assert!(redirect_refusal(&https, &url("http://127.0.0.1:8080/jwks.json")).is_some());
        let local = [url("http://127.0.0.1:8080/dev-idp/jwks.json")];
        assert_eq!(
            redirect_refusal(&local, &url("http://localhost:8080/jwks.json")),
            None
        );
        assert!(redirect_refusal(&local, &url("http://keys.example.com/jwks.json")).is_some());
        let long = [
            https[0].clone(),
            https[0].clone(),
            https[0].clone(),
            https[0].clone(),
        ];
        assert!(redirect_refusal(&long, &url("https://keys.example.com/jwks.json")).is_some());
    }

    #[test]
    fn keys_come_over_https_or_from_this_machine() {
        let secure = |raw: &str| is_secure_source(&Url::parse(raw).unwrap());
        assert!(secure("https://clerk.example.com/.well-known/jwks.json"));
        assert!(secure("http://127.0.0.1:8080/dev-idp/jwks.json"));
        assert!(secure("http://127.8.0.1/jwks.json"));
        assert!(secure("http://localhost:8180/realms/quotes"));
        assert!(secure("http://[::1]:8080/jwks.json"));
        assert!(!secure("http://keycloak.example.com/realms/quotes"));
        assert!(!secure("http://10.0.0.7/jwks.json"));
        assert!(!secure("http://localhost.example.com/jwks.json"));
        assert!(!secure("ftp://localhost/jwks.json"));
    }
}
