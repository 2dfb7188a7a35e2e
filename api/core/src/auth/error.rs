//! Why a request is not authenticated.

/// Why a request is not authenticated. The messages go to the client (in
/// `detail` and `error_description`), so they never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("This endpoint needs a bearer token in the Authorization header.")]
    Missing,
    #[error("The token is larger than 8 KiB.")]
    TooLarge,
    #[error("The token is not a well-formed JWT.")]
    Malformed,
    #[error("The token's signing algorithm is not accepted.")]
    Algorithm,
    #[error("The token does not name its signing key (kid).")]
    NoKeyId,
    #[error("The token was signed with a key the identity provider does not publish.")]
    UnknownKey,
    #[error("The token's signature is not valid.")]
    Signature,
    #[error("The token has expired.")]
    Expired,
    #[error("The token is not valid yet.")]
    NotYetValid,
    #[error("The token was issued in the future.")]
    IssuedInFuture,
    #[error("The token was not issued by the trusted issuer.")]
    Issuer,
    #[error("The token is not meant for this API (aud).")]
    Audience,
    #[error("The token was issued to a party this API does not accept (azp).")]
    AuthorizedParty,
    #[error("The token's subject (sub) is missing or invalid.")]
    Subject,
    #[error("The token is of a kind this API does not accept.")]
    TokenType,
    #[error("The token was issued to a client this API does not accept (client_id).")]
    Client,
    #[error(
        "The token is not active: the identity provider does not know it, or it was revoked or has expired."
    )]
    Inactive,
    #[error("The session is not active yet (pending).")]
    SessionPending,
    #[error("The token's claims are invalid: {0}.")]
    Claims(&'static str),
    #[error("The identity provider's signing keys are not available yet; try again shortly.")]
    KeysUnavailable,
    #[error("The identity provider could not check the token right now; try again shortly.")]
    VerifierUnavailable,
}

impl AuthError {
    /// A short machine-readable reason, for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm",
            Self::NoKeyId => "no_kid",
            Self::UnknownKey => "unknown_kid",
            Self::Signature => "signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::Issuer => "issuer",
            Self::Audience => "audience",
            Self::AuthorizedParty => "authorized_party",
            Self::Subject => "subject",
            Self::TokenType => "token_type",
            Self::Client => "client",
            Self::Inactive => "inactive",
            Self::SessionPending => "session_pending",
            Self::Claims(_) => "claims",
            Self::KeysUnavailable => "keys_unavailable",
            Self::VerifierUnavailable => "verifier_unavailable",
        }
    }

    /// Not the caller's fault: the keys could not be had.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::KeysUnavailable | Self::VerifierUnavailable)
    }
}
