//! `POST /webhooks/clerk`: Clerk's provider events, delivered by Svix.
//!
//! This module owns the signing secret (parsed once at start, never
//! printed), the Standard Webhooks signature check, the events we act on,
//! and the thin handler that ties them to the data layer. A delivery is
//! trusted only after its signature and timestamp check out; until then
//! nothing is read from its body.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::error::PayloadError;
use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, HttpResponse, post, web};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::auth::token::is_valid_subject;
use crate::db::Database;
use crate::error::{ApiError, Problem};
use crate::store;

/// Largest webhook body accepted, in bytes. Clerk's events are a few KiB;
/// a user with many fields still fits comfortably.
pub const MAX_WEBHOOK_BODY_BYTES: usize = 256 * 1024;

/// How far a delivery's timestamp may be from our clock, in seconds. Older
/// deliveries could be replays; newer ones come from a skewed clock.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 5 * 60;

/// Most entries read from `svix-signature`. A sender lists one signature
/// per active secret (two while a secret is being rotated); anything far
/// beyond that is not a real delivery.
pub const MAX_SIGNATURES: usize = 16;

/// Longest `svix-signature` header read, in bytes: room for
/// [`MAX_SIGNATURES`] entries of `v1,<44 base64 characters>` and then some.
pub const MAX_SIGNATURE_HEADER_BYTES: usize = 2048;

const SECRET_PREFIX: &str = "whsec_";

/// The HMAC key of a webhook endpoint, from `whsec_<base64>`.
///
/// Its `Debug` never shows the key, so it may sit in logged configuration.
#[derive(Clone)]
pub struct SigningSecret {
    key: hmac::Key,
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

/// Why a signing secret was refused. The messages never repeat the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("is empty; copy the endpoint's Signing Secret (whsec_...) from the Clerk Dashboard")]
    Empty,
    #[error("must start with `whsec_` (the endpoint's Signing Secret in the Clerk Dashboard)")]
    MissingPrefix,
    #[error("the part after `whsec_` is not valid base64")]
    BadBase64,
}

impl SigningSecret {
    /// Parses `whsec_<base64>`; surrounding whitespace (a pasted newline) is ignored.
    pub fn parse(raw: &str) -> Result<Self, SecretError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(SecretError::Empty);
        }
        let encoded = raw
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        if encoded.is_empty() {
            return Err(SecretError::Empty);
        }
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::BadBase64)?;
        if key.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
        })
    }
}

/// Why a delivery was refused. Shown to the sender as the problem's
/// `detail`, so it names headers but never repeats their values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("the {0} header is not readable text")]
    GarbledHeader(&'static str),
    #[error("svix-timestamp is not a Unix time in seconds")]
    BadTimestamp,
    #[error("svix-timestamp is more than 5 minutes away from the server's clock")]
    StaleTimestamp,
    #[error(
        "svix-signature is longer than {MAX_SIGNATURE_HEADER_BYTES} bytes or lists more than {MAX_SIGNATURES} signatures"
    )]
    TooManySignatures,
    #[error("svix-signature carries no v1 signature")]
    NoV1Signature,
    #[error("no v1 signature in svix-signature matches this delivery")]
    SignatureMismatch,
    #[error("the body is not a webhook event: {0}")]
    NotAnEvent(&'static str),
    #[error("the body could not be read")]
    UnreadableBody,
}

/// The three Svix headers of a delivery, as sent.
#[derive(Debug, Clone, Copy)]
pub struct SvixHeaders<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub signature: &'a str,
}

impl<'a> SvixHeaders<'a> {
    /// Reads the headers; each must be present once and be visible ASCII.
    pub fn from_headers(headers: &'a HeaderMap) -> Result<Self, WebhookError> {
        let read = |name: &'static str| {
            let value = headers.get(name).ok_or(WebhookError::MissingHeader(name))?;
            let value = value
                .to_str()
                .map_err(|_| WebhookError::GarbledHeader(name))?
                .trim();
            if value.is_empty() {
                return Err(WebhookError::MissingHeader(name));
            }
            Ok(value)
        };
        Ok(Self {
            id: read("svix-id")?,
            timestamp: read("svix-timestamp")?,
            signature: read("svix-signature")?,
        })
    }
}

/// Checks a delivery the Standard Webhooks way: the timestamp is within
/// [`TIMESTAMP_TOLERANCE_SECS`] of `now_unix`, and one of the `v1`
/// signatures is the HMAC-SHA256 of `{id}.{timestamp}.{body}`. Entries of
/// other versions are skipped, so a sender may add new schemes.
///
/// The HMAC is computed once and each candidate compared with it in
/// constant time, so what a delivery costs does not grow with the number of
/// signatures it lists; that number is capped all the same.
pub fn verify(
    secret: &SigningSecret,
    headers: &SvixHeaders<'_>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), WebhookError> {
    if headers.signature.len() > MAX_SIGNATURE_HEADER_BYTES
        || headers
            .signature
            .split_whitespace()
            .nth(MAX_SIGNATURES)
            .is_some()
    {
        return Err(WebhookError::TooManySignatures);
    }
    let sent_at: i64 = headers
        .timestamp
        .parse()
        .map_err(|_| WebhookError::BadTimestamp)?;
    if now_unix.abs_diff(sent_at) > TIMESTAMP_TOLERANCE_SECS.unsigned_abs() {
        return Err(WebhookError::StaleTimestamp);
    }

    let mut context = hmac::Context::with_key(&secret.key);
    context.update(headers.id.as_bytes());
    context.update(b".");
    context.update(headers.timestamp.as_bytes());
    context.update(b".");
    context.update(body);
    let expected = context.sign();

    let mut saw_v1 = false;
    let mut matched = false;
    for entry in headers.signature.split_whitespace() {
        let Some(("v1", encoded)) = entry.split_once(',') else {
            continue;
        };
        saw_v1 = true;
        // A garbled entry is just one that does not match; another may.
        let Ok(tag) = STANDARD.decode(encoded) else {
            continue;
        };
        // Every entry is compared, so the time taken says nothing about
        // which one (if any) matched.
        matched |=
            aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_ref(), &tag).is_ok();
    }
    match (matched, saw_v1) {
        (true, _) => Ok(()),
        (false, true) => Err(WebhookError::SignatureMismatch),
        (false, false) => Err(WebhookError::NoV1Signature),
    }
}

/// What a verified delivery asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The user is gone from Clerk: erase what we keep for them.
    UserDeleted { user_id: String },
    /// Anything else (`user.created`, `session.ended`, ...): acknowledged, ignored.
    Other { kind: String },
}

#[derive(Deserialize)]
struct RawEvent {
    #[serde(rename = "type")]
    kind: String,
    // Its shape depends on the type; only `user.deleted` looks inside.
    #[serde(default)]
    data: serde_json::Value,
}

impl Event {
    /// Reads a verified body: a JSON object with a string `type`, and for
    /// `user.deleted` a non-empty string `data.id`.
    pub fn parse(body: &[u8]) -> Result<Self, WebhookError> {
        let raw: RawEvent = serde_json::from_slice(body).map_err(|_| {
            WebhookError::NotAnEvent("expected a JSON object with a string \"type\"")
        })?;
        match raw.kind.as_str() {
            "user.deleted" => {
                let user_id = raw
                    .data
                    .get("id")
                    .and_then(serde_json::Value::as_str)
                    .filter(|id| is_valid_subject(id))
                    .map(str::to_owned)
                    .ok_or(WebhookError::NotAnEvent(
                        "user.deleted needs a string \"data.id\" of 1 to 255 characters without control characters",
                    ))?;
                Ok(Self::UserDeleted { user_id })
            }
            _ => Ok(Self::Other { kind: raw.kind }),
        }
    }

    /// The event's `type`, for the log.
    pub fn kind(&self) -> &str {
        match self {
            Self::UserDeleted { .. } => "user.deleted",
            Self::Other { kind } => kind,
        }
    }
}

/// A Clerk event as Svix delivers it, for the description: only `type`
/// and, for `user.deleted`, `data.id` are read.
#[derive(Debug, utoipa::ToSchema)]
#[schema(example = json!({
    "data": {"deleted": true, "id": "user_29w83sxmDNGwOuEthce5gg56FcC", "object": "user"},
    "object": "event",
    "timestamp": 1_716_883_200_000_i64,
    "type": "user.deleted"
}))]
pub struct ClerkEvent {
    /// The event type: `user.deleted` is acted on, every other type
    /// (`user.created`, `session.ended`, ...) is acknowledged and ignored.
    #[schema(rename = "type", example = "user.deleted")]
    pub kind: String,
    /// The object the event is about; for user events the user, whose `id`
    /// is the user id tokens carry as `sub`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Always `event`.
    #[schema(example = "event")]
    pub object: Option<String>,
    /// When the event happened, in milliseconds since 1970.
    pub timestamp: Option<i64>,
}

/// The route's own body limit; the rest of the API keeps its 16 KiB.
pub fn payload_config() -> web::PayloadConfig {
    web::PayloadConfig::new(MAX_WEBHOOK_BODY_BYTES)
}

/// `POST /webhooks/clerk`
///
/// The body is taken as raw bytes because the signature covers exactly
/// what was sent. Success and ignored events both answer `204`, so Svix
/// stops retrying; a database outage answers `503`, so it retries.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "clerk_webhook",
    params(
        ("svix-id" = String, Header, description = "Unique id of the delivery."),
        ("svix-timestamp" = String, Header, description = "Unix time the delivery was signed, in seconds."),
        ("svix-signature" = String, Header, description = "Space-separated `v1,<base64 HMAC-SHA256>` signatures of `{svix-id}.{svix-timestamp}.{body}`."),
    ),
    request_body(content = ClerkEvent, content_type = "application/json",
        description = "A Clerk event, signed by Svix."),
    responses(
        (status = NO_CONTENT, description = "Accepted (acted on, or ignored when the event type does not concern us)."),
        (status = BAD_REQUEST, description = "Missing or bad signature, stale timestamp, or not an event; nothing changed.",
            body = Problem, content_type = "application/problem+json"),
        (status = NOT_FOUND, description = "Webhooks are not configured (no CLERK_WEBHOOK_SIGNING_SECRET).",
            body = Problem, content_type = "application/problem+json"),
        (status = PAYLOAD_TOO_LARGE, description = "The body is over 256 KiB.",
            body = Problem, content_type = "application/problem+json"),
        (status = SERVICE_UNAVAILABLE, description = "The database is out of reach; the sender retries.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks/clerk")]
pub async fn clerk_webhook(
    req: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
    secret: Option<web::Data<SigningSecret>>,
    db: web::Data<Database>,
) -> Result<HttpResponse, ApiError> {
    // Without a secret the endpoint does not exist, rather than refusing
    // every delivery.
    let secret = secret.ok_or(ApiError::RouteNotFound)?;
    let body = body.map_err(body_error)?;
    let headers = SvixHeaders::from_headers(req.headers())?;
    verify(&secret, &headers, &body, unix_now())?;
    let event = Event::parse(&body)?;

    let erased = match &event {
        Event::UserDeleted { user_id } => {
            let mut conn = db.conn().await?;
            store::delete_user(&mut conn, user_id).await?
        }
        Event::Other { .. } => 0,
    };
    tracing::info!(
        event = event.kind(),
        svix_id = headers.id,
        erased,
        "webhook accepted"
    );
    Ok(HttpResponse::NoContent().finish())
}

/// Methods other than POST: 405, or 404 while webhooks are not configured.
pub async fn other_methods(
    secret: Option<web::Data<SigningSecret>>,
) -> Result<HttpResponse, ApiError> {
    Err(match secret {
        Some(_) => ApiError::MethodNotAllowed { allow: "POST" },
        None => ApiError::RouteNotFound,
    })
}

#[expect(clippy::needless_pass_by_value, reason = "used with map_err")]
fn body_error(error: actix_web::Error) -> ApiError {
    match error.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => ApiError::PayloadTooLarge {
            limit: MAX_WEBHOOK_BODY_BYTES,
        },
        _ => WebhookError::UnreadableBody.into(),
    }
}

fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    i64::try_from(secs).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example from the Standard Webhooks specification's test vectors.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: &str = "1614265330";
    const NOW: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret() -> SigningSecret {
        SigningSecret::parse(SECRET).unwrap()
    }

    fn headers(signature: &str) -> SvixHeaders<'_> {
        SvixHeaders {
            id: ID,
            timestamp: TIMESTAMP,
            signature,
        }
    }

    #[test]
    fn the_specification_example_verifies() {
        assert_eq!(verify(&secret(), &headers(SIGNATURE), BODY, NOW), Ok(()));
    }

    #[test]
    fn a_changed_body_id_or_timestamp_does_not() {
        let secret = secret();
        let tampered = br#"{"test": 2432232315}"#;
        assert_eq!(
            verify(&secret, &headers(SIGNATURE), tampered, NOW),
            Err(WebhookError::SignatureMismatch)
        );
        let other_id = SvixHeaders {
            id: "msg_other",
            ..headers(SIGNATURE)
        };
        assert_eq!(
            verify(&secret, &other_id, BODY, NOW),
            Err(WebhookError::SignatureMismatch)
        );
        let other_time = SvixHeaders {
            timestamp: "1614265331",
            ..headers(SIGNATURE)
        };
        assert_eq!(
            verify(&secret, &other_time, BODY, NOW),
            Err(WebhookError::SignatureMismatch)
        );
    }

    #[test]
    fn another_secret_does_not_verify() {
        let other = SigningSecret::parse("whsec_c2VjcmV0LW90aGVyLWVuZHBvaW50").unwrap();
        assert_eq!(
            verify(&other, &headers(SIGNATURE), BODY, NOW),
            Err(WebhookError::SignatureMismatch)
        );
    }

    #[test]
    fn any_matching_v1_entry_is_enough() {
        let list = format!("v1,Zm9yZ2Vk v1,!!notbase64 v2,abc {SIGNATURE} v1a,xyz");
        assert_eq!(verify(&secret(), &headers(&list), BODY, NOW), Ok(()));
    }

    #[test]
    fn up_to_the_cap_of_signatures_any_may_match() {
        let forged = vec!["v1,Zm9yZ2Vk"; MAX_SIGNATURES - 1].join(" ");
        let at_cap = format!("{forged} {SIGNATURE}");
        assert_eq!(verify(&secret(), &headers(&at_cap), BODY, NOW), Ok(()));
        let over = format!("{forged} v1,Zm9yZ2Vk {SIGNATURE}");
        assert_eq!(
            verify(&secret(), &headers(&over), BODY, NOW),
            Err(WebhookError::TooManySignatures)
        );
        let long = format!("v1,{} {SIGNATURE}", "A".repeat(MAX_SIGNATURE_HEADER_BYTES));
        assert_eq!(
            verify(&secret(), &headers(&long), BODY, NOW),
            Err(WebhookError::TooManySignatures)
        );
    }

    #[test]
    fn entries_of_other_versions_are_ignored() {
        let only_other = "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v2,abc";
        assert_eq!(
            verify(&secret(), &headers(only_other), BODY, NOW),
            Err(WebhookError::NoV1Signature)
        );
        assert_eq!(
            verify(&secret(), &headers("garbage"), BODY, NOW),
            Err(WebhookError::NoV1Signature)
        );
    }

    #[test]
    fn timestamps_beyond_five_minutes_either_way_are_refused() {
        let secret = secret();
        let h = headers(SIGNATURE);
        assert_eq!(verify(&secret, &h, BODY, NOW + 300), Ok(()));
        assert_eq!(verify(&secret, &h, BODY, NOW - 300), Ok(()));
        assert_eq!(
            verify(&secret, &h, BODY, NOW + 301),
            Err(WebhookError::StaleTimestamp)
        );
        assert_eq!(
            verify(&secret, &h, BODY, NOW - 301),
            Err(WebhookError::StaleTimestamp)
        );
    }

    #[test]
    fn a_timestamp_that_is_not_whole_seconds_is_refused() {
        for timestamp in ["", "soon", "1614265330.5", "99999999999999999999"] {
            let h = SvixHeaders {
                timestamp,
                ..headers(SIGNATURE)
            };
            assert_eq!(
                verify(&secret(), &h, BODY, NOW),
                Err(WebhookError::BadTimestamp),
                "{timestamp}"
            );
        }
    }

    #[test]
    fn secrets_need_the_prefix_and_base64() {
        assert_eq!(SigningSecret::parse("").unwrap_err(), SecretError::Empty);
        assert_eq!(
            SigningSecret::parse("whsec_").unwrap_err(),
            SecretError::Empty
        );
        assert_eq!(
            SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err(),
            SecretError::MissingPrefix
        );
        assert_eq!(
            SigningSecret::parse("whsec_not base64!").unwrap_err(),
            SecretError::BadBase64
        );
        assert!(SigningSecret::parse(&format!(" {SECRET}\n")).is_ok());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let shown = format!("{:?}", secret());
        assert_eq!(shown, "SigningSecret(<redacted>)");
    }

    #[test]
    fn headers_are_read_and_checked() {
        let mut map = HeaderMap::new();
        assert_eq!(
            SvixHeaders::from_headers(&map).unwrap_err(),
            WebhookError::MissingHeader("svix-id")
        );
        map.insert(
            actix_web::http::header::HeaderName::from_static("svix-id"),
            actix_web::http::header::HeaderValue::from_static(ID),
        );
        map.insert(
            actix_web::http::header::HeaderName::from_static("svix-timestamp"),
            actix_web::http::header::HeaderValue::from_bytes(b"16\xff").unwrap(),
        );
        assert_eq!(
            SvixHeaders::from_headers(&map).unwrap_err(),
            WebhookError::GarbledHeader("svix-timestamp")
        );
    }

    #[test]
    fn events_are_read_from_the_body() {
        assert_eq!(
            Event::parse(br#"{"type":"user.deleted","data":{"id":"user_2x","deleted":true}}"#),
            Ok(Event::UserDeleted {
                user_id: "user_2x".to_owned()
            })
        );
        assert_eq!(
            Event::parse(br#"{"type":"user.created","data":{"id":"user_2x"}}"#),
            Ok(Event::Other {
                kind: "user.created".to_owned()
            })
        );
        for bad in [
            &b"not json"[..],
            br#"["user.deleted"]"#,
            br#"{"data":{"id":"user_2x"}}"#,
            br#"{"type":"user.deleted","data":{}}"#,
            br#"{"type":"user.deleted","data":{"id":""}}"#,
            br#"{"type":"user.deleted","data":{"id":"user_\u0000x"}}"#,
            br#"{"type":"user.deleted","data":{"id":"user_\nx"}}"#,
        ] {
            assert!(
                Event::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
