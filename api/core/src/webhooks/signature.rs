//! The Standard Webhooks signature Svix puts on Clerk's deliveries: the
//! endpoint's signing secret (parsed once at start, never printed) and the
//! check of a delivery's headers and body. A delivery is trusted only after
//! its signature and timestamp check out; until then nothing is read from
//! its body.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

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
    /// Reads the headers through `header`, which gives a header's value by
    /// its name; each must be present and be visible ASCII.
    pub fn read(header: impl Fn(&'static str) -> Option<&'a [u8]>) -> Result<Self, WebhookError> {
        let read = |name: &'static str| {
            let value = header(name).ok_or(WebhookError::MissingHeader(name))?;
            let visible = value
                .iter()
                .all(|b| (0x20..0x7f).contains(b) || *b == b'\t');
            let value = std::str::from_utf8(value)
                .ok()
                .filter(|_| visible)
                .ok_or(WebhookError::GarbledHeader(name))?
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

    /// Looks headers up in `pairs`.
    fn lookup<'a>(
        pairs: &'a [(&'static str, &'a [u8])],
    ) -> impl Fn(&'static str) -> Option<&'a [u8]> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| *value)
        }
    }

    #[test]
    fn headers_are_read_and_checked() {
        assert_eq!(
            SvixHeaders::read(lookup(&[])).unwrap_err(),
            WebhookError::MissingHeader("svix-id")
        );
        let garbled = [("svix-id", ID.as_bytes()), ("svix-timestamp", b"16\xff")];
        assert_eq!(
            SvixHeaders::read(lookup(&garbled)).unwrap_err(),
            WebhookError::GarbledHeader("svix-timestamp")
        );
        let blank = [("svix-id", ID.as_bytes()), ("svix-timestamp", b"  ")];
        assert_eq!(
            SvixHeaders::read(lookup(&blank)).unwrap_err(),
            WebhookError::MissingHeader("svix-timestamp")
        );
        let whole = [
            ("svix-id", ID.as_bytes()),
            ("svix-timestamp", b"1700000000"),
            ("svix-signature", b" v1,abc "),
        ];
        assert_eq!(
            SvixHeaders::read(lookup(&whole)).unwrap().signature,
            "v1,abc"
        );
    }
}
