//! Why a command did not do its work, and the exit code that says so.
//! Every failure is one line for a person (no backtrace), and names what
//! to do next when there is something to do.

use std::fmt;

/// Exit code: the API or the provider refused (1).
pub const REFUSED: u8 = 1;
/// Exit code: the command line is wrong (2, as clap's own errors).
pub const USAGE: u8 = 2;
/// Exit code: nobody is signed in (3).
pub const NOT_SIGNED_IN: u8 = 3;
/// Exit code: the API or the provider could not be reached (4).
pub const UNREACHABLE: u8 = 4;

/// Why a command failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The API or the provider answered no: what it said, and what to do.
    Refused {
        detail: String,
        next: Option<String>,
    },
    /// The command line cannot be acted on.
    Usage(String),
    /// No sign-in to use, or it has ended.
    NotSignedIn(String),
    /// No answer from `url`.
    Unreachable { url: String, cause: String },
}

impl Failure {
    pub fn refused(detail: impl Into<String>) -> Self {
        Self::Refused {
            detail: detail.into(),
            next: None,
        }
    }

    pub fn refused_then(detail: impl Into<String>, next: impl Into<String>) -> Self {
        Self::Refused {
            detail: detail.into(),
            next: Some(next.into()),
        }
    }

    pub fn unreachable(url: &str, cause: &impl fmt::Display) -> Self {
        Self::Unreachable {
            url: url.to_owned(),
            cause: cause.to_string(),
        }
    }

    /// The process's exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Refused { .. } => REFUSED,
            Self::Usage(_) => USAGE,
            Self::NotSignedIn(_) => NOT_SIGNED_IN,
            Self::Unreachable { .. } => UNREACHABLE,
        }
    }

    /// A short name for scripts reading `--json`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Refused { .. } => "refused",
            Self::Usage(_) => "usage",
            Self::NotSignedIn(_) => "not_signed_in",
            Self::Unreachable { .. } => "unreachable",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused { detail, next: None } => f.write_str(detail),
            Self::Refused {
                detail,
                next: Some(next),
            } => write!(f, "{detail}\n{next}"),
            Self::Usage(message) | Self::NotSignedIn(message) => f.write_str(message),
            Self::Unreachable { url, cause } => write!(f, "cannot reach {url}: {cause}"),
        }
    }
}

/// The message for "nobody is signed in".
pub fn not_signed_in() -> Failure {
    Failure::NotSignedIn("not signed in: run `quotes login`".to_owned())
}

/// Describes a reqwest error without its chain of URLs and queries: the
/// caller names the URL.
pub fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "no answer in time".to_owned()
    } else if error.is_connect() {
        "connection refused or no route".to_owned()
    } else if error.is_decode() {
        "the answer is not what was expected".to_owned()
    } else {
        // The cause, without reqwest's "error sending request for url".
        std::error::Error::source(error).map_or_else(|| error.to_string(), ToString::to_string)
    }
}
