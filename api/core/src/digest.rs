//! Digests the parts share: SHA-256 in base64, as a
//! `Content-Security-Policy` names an inline script or stylesheet it
//! allows (`'sha256-…'`).

use base64::Engine as _;

/// `'sha256-<base64 of SHA-256(text)>'`: the source expression allowing
/// an inline script or stylesheet whose text is `text`.
pub fn csp_hash_source(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    )
}
