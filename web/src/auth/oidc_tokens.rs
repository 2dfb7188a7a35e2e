//! The tokens of one OpenID Connect sign-in, in memory only, and their
//! renewal with the provider's refresh token.
//!
//! With a refresh token, the access token is renewed shortly before it
//! expires ([`renewal_delay`]): by a timer, and by the next request when
//! the timer was late (a tab in the background). One renewal runs at a
//! time; a request that needs a token meanwhile waits for it instead of
//! presenting a token that is about to be replaced, or a refresh token
//! that is about to be spent (a provider that rotates refresh tokens
//! treats a second use as theft and ends the whole sign-in).
//!
//! A provider that refuses the refresh token ends the session: the next
//! request gets no token and the app says "sign in again". A renewal that
//! got no answer (network, provider down) changes nothing; the next request
//! that finds the token due tries again. Without a refresh token the access
//! token is used until the API refuses it.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use futures_util::FutureExt;
use futures_util::future::{LocalBoxFuture, Shared};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use yew::platform::spawn_local;

/// What a request gets when the session cannot give a token any more.
const SESSION_ENDED: &str = "Your session has ended.";

/// The provider's answer at its token endpoint (RFC 6749 §5.1), for a code
/// or a refresh token.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub id_token: Option<String>,
    /// Present when the provider lets the app renew without the person.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds the access token is valid for; a number, or (some older
    /// providers) a string of digits.
    #[serde(default, deserialize_with = "seconds")]
    pub expires_in: Option<f64>,
}

/// `expires_in` as seconds: a number, or a string of whole seconds;
/// anything else counts as not said. Read by hand rather than as any JSON
/// value, which would bring a map type into the bundle for this one field.
fn seconds<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    struct Seconds;

    impl serde::de::Visitor<'_> for Seconds {
        type Value = Option<f64>;

        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("seconds, as a number or a string")
        }

        fn visit_f64<E>(self, seconds: f64) -> Result<Self::Value, E> {
            Ok(Some(seconds))
        }

        #[expect(
            clippy::cast_precision_loss,
            reason = "token lifetimes are far below 2^53 s"
        )]
        fn visit_u64<E>(self, seconds: u64) -> Result<Self::Value, E> {
            Ok(Some(seconds as f64))
        }

        #[expect(
            clippy::cast_precision_loss,
            reason = "token lifetimes are far below 2^53 s"
        )]
        fn visit_i64<E>(self, seconds: i64) -> Result<Self::Value, E> {
            Ok(Some(seconds as f64))
        }

        // Whole seconds: parsing decimals would bring a float parser into
        // the bundle for the sake of a few old providers.
        fn visit_str<E>(self, seconds: &str) -> Result<Self::Value, E> {
            Ok(seconds.trim().parse::<u32>().ok().map(f64::from))
        }

        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    deserializer.deserialize_any(Seconds)
}

/// Where and as whom tokens are renewed.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenEndpoint {
    pub url: String,
    pub client_id: String,
}

/// Seconds after receiving an access token that lives `lifetime` seconds
/// to renew it: at 80% of its lifetime or 10 s before it expires, whichever
/// is earlier, but not before half of it has passed, so that a very short
/// lifetime cannot make the app renew without pause.
pub fn renewal_delay(lifetime: f64) -> f64 {
    let lifetime = lifetime.max(0.0);
    (lifetime * 0.8).min(lifetime - 10.0).max(lifetime / 2.0)
}

/// How long an access token lives, in seconds: the token response's
/// `expires_in`, else what the token itself says (`exp - iat`) when it is
/// a JWT; `None` when neither says (then it is renewed only when the API
/// refuses it as expired).
pub fn lifetime(expires_in: Option<f64>, access_token: &str) -> Option<f64> {
    expires_in
        .or_else(|| {
            let claims: Claims = jwt_claims(access_token)?;
            Some(claims.exp? - claims.iat?)
        })
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
}

/// Whether an access token received at `received_at` (ms) with `lifetime`
/// (s) is due for renewal at `now` (ms).
pub fn renewal_due(now: f64, received_at: f64, lifetime: Option<f64>) -> bool {
    lifetime.is_some_and(|lifetime| now >= received_at + renewal_delay(lifetime) * 1000.0)
}

/// The claims the app reads from its own tokens.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Claims {
    exp: Option<f64>,
    iat: Option<f64>,
    sub: Option<String>,
}

/// The claims of a JWT, read without checking its signature (the app only
/// needs times and the subject from it; the API checks signatures).
pub fn jwt_claims<T: DeserializeOwned>(token: &str) -> Option<T> {
    let payload = token.split('.').nth(1)?;
    let bytes = Base64UrlUnpadded::decode_vec(payload.trim_end_matches('=')).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    crate::json::from_str(&text).ok()
}

/// The tokens of one sign-in. Clones share them; the [`Session`] holds
/// one, so they live as long as the person is signed in.
///
/// [`Session`]: super::Session
#[derive(Clone)]
pub struct OidcTokens(Rc<Inner>);

/// Never the tokens themselves.
impl std::fmt::Debug for OidcTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcTokens")
            .field("renewable", &self.can_renew())
            .finish_non_exhaustive()
    }
}

impl PartialEq for OidcTokens {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

struct Inner {
    /// Where to renew; `None` for tokens that cannot be renewed.
    endpoint: Option<TokenEndpoint>,
    /// Whom the sign-in is for: a renewal must not answer for someone else.
    subject: String,
    held: RefCell<Held>,
    renewal: RefCell<Option<Renewal>>,
    /// Which timer is the current one; older ones stop when they wake.
    timer: Cell<u32>,
    /// Signed out: no more tokens, no more renewals.
    ended: Cell<bool>,
}

/// A renewal under way, awaited by every request that needs a token.
type Renewal = Shared<LocalBoxFuture<'static, Result<String, String>>>;

struct Held {
    access_token: String,
    /// When the access token arrived (ms, the browser's clock), counted
    /// from the request so that the lifetime errs short.
    received_at: f64,
    lifetime: Option<f64>,
    refresh_token: Option<String>,
    /// The provider refused the refresh token: the session is over.
    refused: bool,
}

/// Why a renewal failed.
enum RenewalError {
    /// The provider said no (the refresh token is spent, revoked, expired):
    /// this sign-in cannot go on.
    Refused(String),
    /// No answer that says anything; trying again later may work.
    Unavailable(String),
}

impl OidcTokens {
    /// The tokens a sign-in got at `received_at` (ms); renewal is armed
    /// when there is a refresh token and a known lifetime.
    pub fn new(
        endpoint: TokenEndpoint,
        subject: &str,
        tokens: TokenResponse,
        received_at: f64,
    ) -> Self {
        let held = Held {
            lifetime: lifetime(tokens.expires_in, &tokens.access_token),
            access_token: tokens.access_token,
            received_at,
            refresh_token: tokens.refresh_token,
            refused: false,
        };
        let this = Self(Rc::new(Inner {
            endpoint: Some(endpoint),
            subject: subject.to_owned(),
            held: RefCell::new(held),
            renewal: RefCell::new(None),
            timer: Cell::new(0),
            ended: Cell::new(false),
        }));
        this.arm();
        this
    }

    /// One access token that is never renewed (tests, and a page that got
    /// its token elsewhere).
    pub fn fixed(access_token: &str) -> Self {
        Self(Rc::new(Inner {
            endpoint: None,
            subject: String::new(),
            held: RefCell::new(Held {
                access_token: access_token.to_owned(),
                received_at: 0.0,
                lifetime: None,
                refresh_token: None,
                refused: false,
            }),
            renewal: RefCell::new(None),
            timer: Cell::new(0),
            ended: Cell::new(false),
        }))
    }

    /// A token for the next request: after a renewal under way, or after
    /// one that is due.
    pub async fn access_token(&self) -> Result<String, String> {
        if let Some(running) = self.running() {
            let _ = running.await;
        } else if self.due(now_ms()) {
            let _ = self.renew().await;
        }
        self.current()
    }

    /// A token other than `refused`, which the API just refused as
    /// expired: the one a renewal got meanwhile, or a new renewal's.
    pub async fn fresh_token(&self, refused: &str) -> Result<String, String> {
        if let Some(running) = self.running() {
            let _ = running.await;
        }
        let current = self.current()?;
        if current != refused {
            return Ok(current);
        }
        self.renew().await
    }

    /// Signed out: the tokens are dropped from use and renewal stops.
    pub fn end(&self) {
        self.0.ended.set(true);
        self.0.timer.set(self.0.timer.get().wrapping_add(1));
        let mut held = self.0.held.borrow_mut();
        held.refresh_token = None;
        held.access_token.clear();
    }

    fn current(&self) -> Result<String, String> {
        let held = self.0.held.borrow();
        if self.0.ended.get() || held.refused {
            Err(SESSION_ENDED.to_owned())
        } else {
            Ok(held.access_token.clone())
        }
    }

    fn can_renew(&self) -> bool {
        !self.0.ended.get()
            && self.0.endpoint.is_some()
            && self.0.held.borrow().refresh_token.is_some()
    }

    fn due(&self, now: f64) -> bool {
        let held = self.0.held.borrow();
        self.can_renew() && renewal_due(now, held.received_at, held.lifetime)
    }

    fn running(&self) -> Option<Renewal> {
        self.0.renewal.borrow().clone()
    }

    /// The renewal under way, or a new one.
    fn renew(&self) -> Renewal {
        if let Some(running) = self.running() {
            return running;
        }
        let refresh_token = self.0.held.borrow().refresh_token.clone();
        let endpoint = self.0.endpoint.clone();
        let weak = Rc::downgrade(&self.0);
        let renewal: Renewal = async move {
            let started = now_ms();
            let answer = match (endpoint, refresh_token) {
                (Some(endpoint), Some(refresh_token)) => refresh(&endpoint, &refresh_token).await,
                _ => Err(RenewalError::Refused(SESSION_ENDED.to_owned())),
            };
            finish(&weak, answer, started)
        }
        .boxed_local()
        .shared();
        *self.0.renewal.borrow_mut() = Some(renewal.clone());
        renewal
    }

    /// Starts the timer that renews before expiry (replacing any other).
    fn arm(&self) {
        let generation = self.0.timer.get().wrapping_add(1);
        self.0.timer.set(generation);
        let delay = {
            let held = self.0.held.borrow();
            match held.lifetime {
                Some(lifetime) if self.can_renew() => {
                    held.received_at + renewal_delay(lifetime) * 1000.0 - now_ms()
                }
                _ => return,
            }
        };
        let weak = Rc::downgrade(&self.0);
        spawn_local(async move {
            yew::platform::time::sleep(duration_ms(delay)).await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            if inner.timer.get() == generation && !inner.ended.get() {
                // A failure is the next request's business (see above).
                let _ = Self(inner).renew().await;
            }
        });
    }
}

/// Applies a renewal's answer to the tokens, if they are still in use.
fn finish(
    weak: &Weak<Inner>,
    answer: Result<TokenResponse, RenewalError>,
    started: f64,
) -> Result<String, String> {
    let inner = weak.upgrade().ok_or(SESSION_ENDED)?;
    inner.renewal.borrow_mut().take();
    if inner.ended.get() {
        return Err(SESSION_ENDED.to_owned());
    }
    let answer = answer.and_then(|tokens| {
        let subject = tokens.id_token.as_deref().map(|id_token| {
            jwt_claims::<Claims>(id_token)
                .and_then(|claims| claims.sub)
                .unwrap_or_default()
        });
        match subject {
            Some(subject) if subject != inner.subject => Err(RenewalError::Refused(
                "The sign-in service renewed the tokens for someone else.".to_owned(),
            )),
            _ => Ok(tokens),
        }
    });
    let tokens = OidcTokens(inner);
    let mut held = tokens.0.held.borrow_mut();
    match answer {
        Ok(renewed) => {
            held.lifetime = lifetime(renewed.expires_in, &renewed.access_token);
            held.access_token = renewed.access_token;
            held.received_at = started;
            // A provider that does not rotate keeps the one it gave.
            if let Some(refresh_token) = renewed.refresh_token {
                held.refresh_token = Some(refresh_token);
            }
            let token = held.access_token.clone();
            drop(held);
            tokens.arm();
            Ok(token)
        }
        Err(RenewalError::Refused(message)) => {
            held.refused = true;
            held.refresh_token = None;
            Err(message)
        }
        Err(RenewalError::Unavailable(message)) => Err(message),
    }
}

/// `grant_type=refresh_token` at the token endpoint (RFC 6749 §6).
async fn refresh(
    endpoint: &TokenEndpoint,
    refresh_token: &str,
) -> Result<TokenResponse, RenewalError> {
    let form = vec![
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", refresh_token.to_owned()),
        ("client_id", endpoint.client_id.clone()),
    ];
    let answer = crate::http::post_form(&endpoint.url, form)
        .await
        .map_err(|e| RenewalError::Unavailable(service_unreachable(e)))?;
    let status = answer.status();
    if status.is_client_error() {
        // RFC 6749 §5.2: `invalid_grant` for a spent, revoked or expired
        // refresh token.
        #[derive(Deserialize)]
        struct ErrorBody {
            error: String,
        }
        let error = answer
            .json::<ErrorBody>()
            .map_or_else(|_| status.to_string(), |body| body.error);
        return Err(RenewalError::Refused(format!(
            "The sign-in service refused to renew the session ({error})."
        )));
    }
    if !status.is_success() {
        return Err(RenewalError::Unavailable(format!(
            "The sign-in service answered {status}."
        )));
    }
    answer.json().map_err(|e| {
        RenewalError::Unavailable(format!("The sign-in service's answer is unreadable ({e})."))
    })
}

/// Milliseconds since 1970 by the browser's clock.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn duration_ms(ms: f64) -> Duration {
    // Whole milliseconds, at most a week (a timer cannot wait longer).
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "clamped to 0..=a week of milliseconds first"
    )]
    let ms = ms.clamp(0.0, 7.0 * 86_400_000.0) as u64;
    Duration::from_millis(ms)
}

/// What a person reads when the provider cannot be reached; the error
/// itself (the HTTP library's words) goes to the console, for developers.
pub(super) fn service_unreachable(error: impl std::fmt::Display) -> String {
    let detail = format!("sign-in service: {error}");
    // Host-run unit tests have no console to write to.
    #[cfg(target_arch = "wasm32")]
    web_sys::console::warn_1(&detail.into());
    #[cfg(not(target_arch = "wasm32"))]
    drop(detail);
    "The sign-in service could not be reached. Check your connection, then try again.".to_owned()
}

#[cfg(test)]
pub(super) mod tests {
    use std::time::Duration;

    use base64ct::{Base64UrlUnpadded, Encoding};

    use super::{TokenResponse, duration_ms, lifetime, renewal_delay, renewal_due};

    /// An unsigned JWT carrying `claims` (the app never checks signatures).
    pub(in crate::auth) fn jwt(claims: &str) -> String {
        format!(
            "e30.{}.c2ln",
            Base64UrlUnpadded::encode_string(claims.as_bytes())
        )
    }

    #[test]
    fn renewal_comes_before_expiry() {
        // An hour: at 80%, long before the last 10 s.
        assert!((renewal_delay(3600.0) - 2880.0).abs() < 1e-9);
        // 20 s: 10 s before expiry comes before 80% (16 s).
        assert!((renewal_delay(20.0) - 10.0).abs() < 1e-9);
        // 30 s: 10 s before expiry (at 20 s) comes before 80% (24 s).
        assert!((renewal_delay(30.0) - 20.0).abs() < 1e-9);
        // 60 s: 80% (48 s) comes before the last 10 s (50 s).
        assert!((renewal_delay(60.0) - 48.0).abs() < 1e-9);
        // Very short lifetimes: never before half of it, so never in a loop.
        assert!((renewal_delay(10.0) - 5.0).abs() < 1e-9);
        assert!((renewal_delay(1.0) - 0.5).abs() < 1e-9);
        for lifetime in [1.0, 5.0, 12.5, 20.0, 300.0, 86_400.0] {
            let delay = renewal_delay(lifetime);
            assert!(delay > 0.0 && delay < lifetime, "{lifetime}: {delay}");
        }
    }

    #[test]
    fn a_renewal_already_due_waits_for_nothing() {
        assert_eq!(duration_ms(-5_000.0), Duration::ZERO);
        assert_eq!(duration_ms(10_500.4), Duration::from_millis(10_500));
        assert_eq!(
            duration_ms(1e15),
            Duration::from_secs(7 * 86_400),
            "at most a week"
        );
    }

    #[test]
    fn a_token_is_due_only_once_its_renewal_time_has_come() {
        let received = 1_000_000.0;
        assert!(!renewal_due(received + 9_999.0, received, Some(20.0)));
        assert!(renewal_due(received + 10_000.0, received, Some(20.0)));
        assert!(renewal_due(received + 60_000.0, received, Some(20.0)));
        assert!(
            !renewal_due(received + 1e9, received, None),
            "an unknown lifetime is never due: the API's refusal says when"
        );
    }

    #[test]
    fn the_lifetime_comes_from_the_answer_or_else_the_token() {
        assert_eq!(lifetime(Some(20.0), "opaque"), Some(20.0));
        assert_eq!(lifetime(None, "opaque"), None);
        let token = jwt(r#"{"iat": 1000, "exp": 1300}"#);
        assert_eq!(lifetime(None, &token), Some(300.0));
        assert_eq!(lifetime(Some(60.0), &token), Some(60.0), "expires_in wins");
        assert_eq!(lifetime(Some(0.0), "opaque"), None);
        assert_eq!(lifetime(None, &jwt(r#"{"exp": 1300}"#)), None);
    }

    #[test]
    fn token_responses_are_read_with_or_without_a_refresh_token() {
        let with: TokenResponse = serde_json::from_str(
            r#"{"access_token": "a", "refresh_token": "r", "expires_in": 20,
                "token_type": "Bearer", "id_token": "i"}"#,
        )
        .expect("valid");
        assert_eq!(with.refresh_token.as_deref(), Some("r"));
        assert_eq!(with.expires_in, Some(20.0));
        let without: TokenResponse =
            serde_json::from_str(r#"{"access_token": "a", "expires_in": "3600"}"#).expect("valid");
        assert_eq!(without.refresh_token, None);
        assert_eq!(
            without.expires_in,
            Some(3600.0),
            "a string of digits counts"
        );
    }
}
