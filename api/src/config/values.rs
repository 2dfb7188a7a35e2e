//! What a bad setting looks like (the variable and the problem, one line),
//! and the parsers of the values settings are made of.

use std::time::Duration;

use ipnet::IpNet;
use url::Url;

/// A bad setting: which variable, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl ConfigError {
    pub fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self {
            variable,
            message: message.into(),
        }
    }
}

pub(super) fn non_empty(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|value| !value.is_empty())
}

/// Addresses or CIDR ranges; a bare address is a range of one.
pub(super) fn trusted_proxies(raw: &str) -> Result<Vec<IpNet>, ConfigError> {
    list(raw)
        .into_iter()
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    ConfigError::new(
                        "TRUSTED_PROXIES",
                        format!("`{item}` is not an IP address or CIDR range such as 10.0.0.0/8"),
                    )
                })
        })
        .collect()
}

pub(super) fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Origins are compared byte for byte with what browsers send, so they are
/// normalised the same way: no trailing slash, no path.
pub(super) fn origins(variable: &'static str, raw: &str) -> Result<Vec<String>, ConfigError> {
    list(raw)
        .into_iter()
        .map(|origin| {
            let url = http_url(variable, &origin)?;
            if url.path() != "/" || url.query().is_some() {
                return Err(ConfigError::new(
                    variable,
                    format!("`{origin}` is not an origin (scheme://host[:port], no path)"),
                ));
            }
            Ok(url.origin().ascii_serialization())
        })
        .collect()
}

pub(super) fn http_url(variable: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw)
        .map_err(|e| ConfigError::new(variable, format!("`{raw}` is not a URL ({e})")))?;
    if matches!(url.scheme(), "http" | "https") {
        Ok(url)
    } else {
        Err(ConfigError::new(
            variable,
            format!("`{raw}` must be an http(s) URL"),
        ))
    }
}

pub(super) fn number(variable: &'static str, raw: &str) -> Result<u64, ConfigError> {
    raw.trim()
        .parse()
        .map_err(|_| ConfigError::new(variable, format!("expected a whole number, got `{raw}`")))
}

pub(super) fn positive(variable: &'static str, raw: &str) -> Result<usize, ConfigError> {
    match number(variable, raw)? {
        0 => Err(ConfigError::new(variable, "must be at least 1")),
        n => usize::try_from(n).map_err(|_| ConfigError::new(variable, "is too large")),
    }
}

pub(super) fn millis(variable: &'static str, raw: &str) -> Result<Duration, ConfigError> {
    match number(variable, raw)? {
        0 => Err(ConfigError::new(variable, "must be at least 1 millisecond")),
        n => Ok(Duration::from_millis(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_like_browser_origin_headers() {
        let parsed = origins("X", "https://app.example.com/, http://localhost:3000").unwrap();
        assert_eq!(parsed, ["https://app.example.com", "http://localhost:3000"]);
    }

    #[test]
    fn an_origin_with_a_path_is_refused_with_the_variable_name() {
        let err = origins("CORS_ALLOWED_ORIGINS", "https://app.example.com/app").unwrap_err();
        assert_eq!(err.variable, "CORS_ALLOWED_ORIGINS");
    }

    #[test]
    fn zero_pool_size_is_refused() {
        assert!(positive("DATABASE_POOL_SIZE", "0").is_err());
        assert_eq!(positive("DATABASE_POOL_SIZE", " 4 ").unwrap(), 4);
    }
}
