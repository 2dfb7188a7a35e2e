//! The request id: taken from an incoming `X-Request-Id` when it is plain,
//! made here otherwise, and echoed on the answer, so one id follows a
//! request through the logs of every hop.

use std::fmt::Write as _;

/// Header carrying the request id, accepted from the caller or made here.
pub const REQUEST_ID: &str = "x-request-id";

/// Ids from a load balancer or client are kept when they are short and
/// plain, so they cannot forge log lines or bloat them.
pub fn is_sane_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A new request id: 128 random bits in hex.
pub fn new_request_id() -> String {
    let mut bytes = [0u8; 16];
    // Without randomness the id is all zeros: still a valid header.
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    bytes.iter().fold(String::with_capacity(32), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_only_when_plain() {
        assert!(is_sane_request_id("b3f1c2d4-0000-4e6f-9a1b-123456789abc"));
        assert!(is_sane_request_id("lb.1:abc_DEF"));
        assert!(!is_sane_request_id(""));
        assert!(!is_sane_request_id("two words"));
        assert!(!is_sane_request_id("line\nbreak"));
        assert!(!is_sane_request_id(&"x".repeat(129)));
        let made = new_request_id();
        assert_eq!(made.len(), 32);
        assert!(is_sane_request_id(&made));
    }
}
