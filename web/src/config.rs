//! `config.json`: where the API is and which provider signs people in. It
//! sits next to `index.html`, so one bundle serves any deployment. Each
//! provider's settings belong to its module in [`crate::auth`]; this file
//! only puts them together and checks the whole.

use serde::Deserialize;

use crate::auth::clerk::ClerkSettings;
use crate::auth::oidc::OidcSettings;
use crate::json;
use crate::location::app_base;

/// The app's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    /// The API's origin (and path prefix, if any), without a trailing slash.
    pub api_base: String,
    pub provider: Provider,
}

/// Who signs people in: one variant per provider, with what that provider
/// needs. `kind` in `config.json` names the variant.
#[derive(Debug, Clone, PartialEq)]
pub enum Provider {
    /// Any OpenID Connect provider: authorization code with PKCE.
    Oidc(OidcSettings),
    /// Clerk, through its own browser library.
    Clerk(ClerkSettings),
}

/// Why the app cannot start.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError(pub String);

/// Reads and checks `config.json`.
pub async fn load() -> Result<AppConfig, ConfigError> {
    let url = format!("{}config.json", app_base());
    let answer = crate::http::get(&url)
        .await
        .map_err(|e| ConfigError(format!("{url} could not be loaded ({e}).")))?;
    if !answer.status().is_success() {
        return Err(ConfigError(format!(
            "{url} answered {}; the app needs it next to index.html.",
            answer.status()
        )));
    }
    parse(answer.text()).map_err(|e| ConfigError(format!("{url} is not valid: {e}.")))
}

/// Parses `config.json`'s text: `kind` first, then the text again with
/// that provider's settings. (serde's `#[serde(tag = "kind")]` would do it
/// in one pass through a buffered copy of any value, whose code is 10 KB
/// of the bundle.)
pub fn parse(text: &str) -> Result<AppConfig, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Oidc,
        Clerk,
    }
    #[derive(Deserialize)]
    struct Tagged {
        kind: Kind,
    }
    #[derive(Deserialize)]
    struct Config<P> {
        api_base: String,
        provider: P,
    }
    let Config {
        api_base,
        provider: Tagged { kind },
    } = json::from_str(text)?;
    let provider = match kind {
        Kind::Oidc => Provider::Oidc(json::from_str::<Config<OidcSettings>>(text)?.provider),
        Kind::Clerk => Provider::Clerk(json::from_str::<Config<ClerkSettings>>(text)?.provider),
    };
    let api_base = api_base.trim_end_matches('/').to_owned();
    if !(api_base.starts_with("http://") || api_base.starts_with("https://")) {
        return Err("api_base must be an http(s) URL".to_owned());
    }
    Ok(AppConfig { api_base, provider })
}

#[cfg(test)]
mod tests {
    use super::{Provider, parse};
    use crate::auth::clerk::ClerkSettings;
    use crate::auth::oidc::OidcSettings;

    #[test]
    fn an_oidc_config_is_read() {
        let config = parse(
            r#"{"api_base": "http://127.0.0.1:8080/", "provider": {"kind": "oidc",
                "issuer": "http://127.0.0.1:8080/dev-idp", "client_id": "quotes-web",
                "scopes": "openid profile"}}"#,
        )
        .expect("valid");
        assert_eq!(config.api_base, "http://127.0.0.1:8080");
        assert!(matches!(
            config.provider,
            Provider::Oidc(OidcSettings { audience: None, .. })
        ));
        let clerk = parse(
            r#"{"api_base": "https://api.example.test", "provider":
                {"kind": "clerk", "publishable_key": "pk_test_x"}}"#,
        )
        .expect("valid");
        assert!(matches!(
            clerk.provider,
            Provider::Clerk(ClerkSettings { .. })
        ));
    }

    #[test]
    fn broken_configs_say_what_is_wrong() {
        assert!(parse("{}").unwrap_err().contains("api_base"));
        let unknown = r#"{"api_base": "http://x", "provider": {"kind": "saml"}}"#;
        assert!(parse(unknown).unwrap_err().contains("saml"));
        let no_kind = r#"{"api_base": "http://x", "provider": {"issuer": "http://x"}}"#;
        assert!(parse(no_kind).unwrap_err().contains("kind"));
        let half =
            r#"{"api_base": "http://x", "provider": {"kind": "oidc", "issuer": "http://x"}}"#;
        assert!(parse(half).unwrap_err().contains("client_id"));
        let relative =
            r#"{"api_base": "/api", "provider": {"kind": "clerk", "publishable_key": "pk"}}"#;
        assert!(parse(relative).unwrap_err().contains("http"));
    }
}
