//! The identity provider's flags and variables, parsed into the
//! verifier's [`AuthSettings`].

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::cli::AuthArgs;
use super::values::{ConfigError, http_url, list, non_empty, number, origins};
use quotes_core::auth::keys::is_secure_source;
use quotes_core::auth::{
    AuthSettings, ClerkBackend, Introspection, MAX_LEEWAY_SECS, OpaqueSettings, Scope, TokenKind,
    TokenKinds, clerk,
};

/// Parses the identity provider arguments. The issuer comes from
/// `AUTH_ISSUER` or, for Clerk, from the publishable key; when both are
/// given they must agree.
pub fn auth_settings(args: &AuthArgs) -> Result<AuthSettings, ConfigError> {
    let clerk_frontend_api = non_empty(args.clerk_publishable_key.as_deref())
        .map(|key| {
            clerk::frontend_api_from_publishable_key(key)
                .map_err(|message| ConfigError::new("CLERK_PUBLISHABLE_KEY", message))
        })
        .transpose()?;
    let clerk_frontend_api = clerk_frontend_api
        .map(|derived| normal_issuer("CLERK_PUBLISHABLE_KEY", &derived))
        .transpose()?;
    let configured = non_empty(args.auth_issuer.as_deref())
        .map(|raw| normal_issuer("AUTH_ISSUER", raw))
        .transpose()?;
    // Both in one normal form, so `https://Clerk.example.com/` and the
    // key's `https://clerk.example.com` are one issuer, stored as Clerk
    // writes it in its tokens.
    let issuer = match (configured, &clerk_frontend_api) {
        (Some(issuer), Some(derived)) if issuer.trim_end_matches('/') != derived => {
            return Err(ConfigError::new(
                "CLERK_PUBLISHABLE_KEY",
                format!("belongs to {derived}, but AUTH_ISSUER is {issuer}"),
            ));
        }
        (_, Some(derived)) => derived.clone(),
        (Some(issuer), None) => issuer,
        (None, None) => {
            return Err(ConfigError::new(
                "AUTH_ISSUER",
                "required (or CLERK_PUBLISHABLE_KEY), e.g. https://clerk.example.com",
            ));
        }
    };
    let static_key = non_empty(args.clerk_jwt_key.as_deref())
        .map(|pem| {
            clerk::verifying_key_from_pem(pem)
                .map(Arc::new)
                .map_err(|message| ConfigError::new("CLERK_JWT_KEY", message))
        })
        .transpose()?;
    let configured_jwks = non_empty(args.auth_jwks_url.as_deref())
        .map(|raw| http_url("AUTH_JWKS_URL", raw))
        .transpose()?;
    if static_key.is_some() && configured_jwks.is_some() {
        return Err(ConfigError::new(
            "AUTH_JWKS_URL",
            "cannot be combined with CLERK_JWT_KEY, which replaces the JWKS",
        ));
    }
    // Clerk serves its keys at the Frontend API's well-known path.
    let jwks_url = match (configured_jwks, &clerk_frontend_api) {
        (Some(url), _) => Some(url),
        (None, Some(frontend_api)) => Some(http_url(
            "CLERK_PUBLISHABLE_KEY",
            &format!("{frontend_api}/.well-known/jwks.json"),
        )?),
        (None, None) => None,
    };
    // Whoever can change the keys in transit can sign in as anyone.
    if static_key.is_none() {
        let (variable, first_fetch) = match &jwks_url {
            Some(url) => ("AUTH_JWKS_URL", url.clone()),
            None => (
                "AUTH_ISSUER",
                Url::parse(&issuer)
                    .map_err(|e| ConfigError::new("AUTH_ISSUER", format!("not a URL ({e})")))?,
            ),
        };
        if !is_secure_source(&first_fetch) {
            return Err(ConfigError::new(
                variable,
                format!(
                    "signing keys are fetched over https only, except from this machine \
                     (localhost, 127.0.0.1, [::1]); {first_fetch} is neither"
                ),
            ));
        }
    }
    let clerk = clerk_frontend_api.is_some() || static_key.is_some();
    let mut settings = AuthSettings {
        issuer,
        jwks_url,
        audiences: list(args.auth_audience.as_deref().unwrap_or_default()),
        authorized_parties: origins(
            "AUTH_AUTHORIZED_PARTIES",
            args.auth_authorized_parties.as_deref().unwrap_or_default(),
        )?,
        leeway: leeway(&args.auth_leeway_secs)?,
        clerk,
        static_key,
        ..AuthSettings::new(String::new())
    };
    third_party(&mut settings, args)?;
    if !clerk && settings.accepted().contains(TokenKind::Session) {
        return Err(ConfigError::new(
            "AUTH_ACCEPTED_TOKENS",
            "session_token is Clerk's; with another provider, its tokens are oauth_token",
        ));
    }
    Ok(settings)
}

/// The settings of third-party access, the same whichever provider:
/// the resource, the token kinds, the clients, the scope names and where
/// opaque tokens are checked.
fn third_party(settings: &mut AuthSettings, args: &AuthArgs) -> Result<(), ConfigError> {
    settings.resource = non_empty(args.auth_resource.as_deref())
        .map(resource)
        .transpose()?;
    settings.accepted_tokens = non_empty(args.auth_accepted_tokens.as_deref())
        .map(accepted_tokens)
        .transpose()?;
    settings.client_ids = list(args.auth_client_ids.as_deref().unwrap_or_default());
    settings.scope_map = scope_map(args.auth_scope_map.as_deref().unwrap_or_default())?;
    settings.unscoped_tokens_grant_all = flag(
        "AUTH_UNSCOPED_TOKENS_GRANT_ALL",
        &args.auth_unscoped_tokens_grant_all,
    )?;
    settings.opaque = opaque(args)?;
    let accepted = settings.accepted();
    let opaque_kinds = accepted.contains(TokenKind::ApiKey);
    if opaque_kinds && settings.opaque.clerk.is_none() {
        return Err(ConfigError::new(
            "AUTH_ACCEPTED_TOKENS",
            "api_key needs CLERK_SECRET_KEY, to check keys with Clerk's Backend API",
        ));
    }
    Ok(())
}

/// An http(s) URL with no query, fragment or path: the metadata lives at
/// its origin's `/.well-known/oauth-protected-resource`.
fn resource(raw: &str) -> Result<String, ConfigError> {
    let url = http_url("AUTH_RESOURCE", raw)?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new(
            "AUTH_RESOURCE",
            "must be the API's origin, such as https://api.example.com, with no path",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn accepted_tokens(raw: &str) -> Result<TokenKinds, ConfigError> {
    list(raw)
        .iter()
        .map(|name| {
            TokenKind::parse(name).ok_or_else(|| {
                ConfigError::new(
                    "AUTH_ACCEPTED_TOKENS",
                    format!(
                        "`{name}` is not a token kind; the kinds are session_token, \
                         oauth_token, api_key and m2m_token"
                    ),
                )
            })
        })
        .collect()
}

fn scope_map(raw: &str) -> Result<Vec<(String, Scope)>, ConfigError> {
    list(raw)
        .iter()
        .map(|pair| {
            let (theirs, ours) = pair.rsplit_once('=').ok_or_else(|| {
                ConfigError::new(
                    "AUTH_SCOPE_MAP",
                    format!(
                        "`{pair}` is not `theirs=ours`, e.g. api://quotes/Quotes.Read=quotes:read"
                    ),
                )
            })?;
            let ours = Scope::parse(ours.trim()).ok_or_else(|| {
                ConfigError::new(
                    "AUTH_SCOPE_MAP",
                    format!("`{ours}` is not one of this API's scopes (quotes:read, quotes:write)"),
                )
            })?;
            Ok((theirs.trim().to_owned(), ours))
        })
        .collect()
}

fn flag(variable: &'static str, raw: &str) -> Result<bool, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "off" => Ok(false),
        "1" | "true" | "yes" | "on" => Ok(true),
        other => Err(ConfigError::new(
            variable,
            format!("expected true or false, got `{other}`"),
        )),
    }
}

fn opaque(args: &AuthArgs) -> Result<OpaqueSettings, ConfigError> {
    let clerk = non_empty(args.clerk_secret_key.as_deref())
        .map(|secret| {
            if !secret.starts_with("sk_") {
                return Err(ConfigError::new(
                    "CLERK_SECRET_KEY",
                    "must start with sk_test_ or sk_live_",
                ));
            }
            Ok(ClerkBackend {
                api_url: secure_base("CLERK_API_URL", &args.clerk_api_url)?,
                secret_key: secret.to_owned(),
            })
        })
        .transpose()?;
    let introspection = match (
        non_empty(args.auth_introspection_url.as_deref()),
        non_empty(args.auth_introspection_client_id.as_deref()),
        non_empty(args.auth_introspection_client_secret.as_deref()),
    ) {
        (None, None, None) => None,
        (Some(url), Some(client_id), Some(client_secret)) => Some(Introspection {
            url: secure_base("AUTH_INTROSPECTION_URL", url)?,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
        }),
        _ => {
            return Err(ConfigError::new(
                "AUTH_INTROSPECTION_URL",
                "needs AUTH_INTROSPECTION_CLIENT_ID and AUTH_INTROSPECTION_CLIENT_SECRET with it",
            ));
        }
    };
    Ok(OpaqueSettings {
        clerk,
        introspection,
    })
}

/// A URL tokens are sent to: `https`, or `http` on this machine only.
fn secure_base(variable: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let mut url = http_url(variable, raw)?;
    if !is_secure_source(&url) {
        return Err(ConfigError::new(
            variable,
            format!("tokens are sent over https only, except on this machine; {url} is neither"),
        ));
    }
    // Joined with relative paths, so the base must end in a slash.
    if !url.path().ends_with('/') && variable == "CLERK_API_URL" {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn leeway(raw: &str) -> Result<Duration, ConfigError> {
    match number("AUTH_LEEWAY_SECS", raw)? {
        secs if secs > MAX_LEEWAY_SECS => Err(ConfigError::new(
            "AUTH_LEEWAY_SECS",
            format!("must be at most {MAX_LEEWAY_SECS} seconds, got {secs}"),
        )),
        secs => Ok(Duration::from_secs(secs)),
    }
}

/// An issuer in the one form it is compared and stored in: scheme and host
/// in lower case, no default port, no query, fragment or credentials, and
/// the path as written. A trailing slash after the host is kept only when
/// written, since it is part of some providers' issuers (Auth0's) and not
/// of others' (Clerk's), and `iss` is compared exactly.
fn normal_issuer(variable: &'static str, raw: &str) -> Result<String, ConfigError> {
    let raw = raw.trim();
    let url =
        Url::parse(raw).map_err(|e| ConfigError::new(variable, format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::new(variable, "must be an http(s) URL"));
    }
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(ConfigError::new(
            variable,
            "must be a plain URL, without query, fragment or credentials",
        ));
    }
    let mut normal = url.to_string();
    if url.path() == "/" && !raw.ends_with('/') {
        normal.pop();
    }
    Ok(normal)
}

/// Trust the development provider hosted by this very process. It is
/// refused on any address other people could reach, and next to a real
/// provider's settings, so that it cannot be switched on by accident.
#[cfg(feature = "dev-idp")]
pub fn development_auth_settings(
    bind_addr: std::net::SocketAddr,
    args: &AuthArgs,
) -> Result<AuthSettings, ConfigError> {
    if !bind_addr.ip().is_loopback() {
        return Err(ConfigError::new(
            "DEV_IDP",
            format!(
                "the development identity provider only runs on a loopback BIND_ADDR \
                 (127.0.0.1 or [::1]), not {bind_addr}"
            ),
        ));
    }
    let real_provider = [
        ("AUTH_ISSUER", &args.auth_issuer),
        ("AUTH_JWKS_URL", &args.auth_jwks_url),
        ("AUTH_AUDIENCE", &args.auth_audience),
        ("AUTH_AUTHORIZED_PARTIES", &args.auth_authorized_parties),
        ("CLERK_PUBLISHABLE_KEY", &args.clerk_publishable_key),
        ("CLERK_JWT_KEY", &args.clerk_jwt_key),
    ];
    if let Some((variable, _)) = real_provider
        .iter()
        .find(|(_, value)| value.as_deref().is_some_and(|v| !v.trim().is_empty()))
    {
        return Err(ConfigError::new(
            "DEV_IDP",
            format!("cannot be combined with {variable}; use one identity provider"),
        ));
    }
    let mut settings = AuthSettings {
        leeway: leeway(&args.auth_leeway_secs)?,
        ..AuthSettings::new(crate::dev_idp::issuer_for(bind_addr))
    };
    // The resource, when not set, is the address actually bound (see
    // `app`): tests bind port 0.
    third_party(&mut settings, args)?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_have_one_normal_form() {
        let normal = |raw| normal_issuer("AUTH_ISSUER", raw).unwrap();
        assert_eq!(
            normal(" HTTPS://Clerk.Example.com "),
            "https://clerk.example.com"
        );
        assert_eq!(
            normal("https://tenant.auth0.com/"),
            "https://tenant.auth0.com/"
        );
        assert_eq!(
            normal("https://idp.example.com:443/realms/Quotes"),
            "https://idp.example.com/realms/Quotes"
        );
        for refused in [
            "https://idp.example.com/?x=1",
            "https://u:p@idp.example.com",
            "mailto:a@b",
        ] {
            assert!(normal_issuer("AUTH_ISSUER", refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn a_clerk_key_and_its_issuer_written_otherwise_are_one_issuer() {
        let args = AuthArgs {
            auth_issuer: Some("HTTPS://Clerk.Example.com/".to_owned()),
            auth_jwks_url: None,
            auth_audience: None,
            auth_authorized_parties: None,
            auth_leeway_secs: "5".to_owned(),
            // pk_test_ + base64("clerk.example.com$")
            clerk_publishable_key: Some("pk_test_Y2xlcmsuZXhhbXBsZS5jb20k".to_owned()),
            clerk_jwt_key: None,
            ..no_third_party()
        };
        let config = auth_settings(&args).unwrap();
        assert_eq!(config.issuer, "https://clerk.example.com");
        let other = AuthArgs {
            auth_issuer: Some("https://clerk.other.example".to_owned()),
            ..args
        };
        let err = auth_settings(&other).unwrap_err();
        assert_eq!(err.variable, "CLERK_PUBLISHABLE_KEY");
    }

    fn no_third_party() -> AuthArgs {
        AuthArgs {
            auth_issuer: None,
            auth_jwks_url: None,
            auth_audience: None,
            auth_authorized_parties: None,
            auth_leeway_secs: "5".to_owned(),
            clerk_publishable_key: None,
            clerk_jwt_key: None,
            auth_resource: None,
            auth_accepted_tokens: None,
            auth_client_ids: None,
            auth_scope_map: None,
            auth_unscoped_tokens_grant_all: "false".to_owned(),
            clerk_secret_key: None,
            clerk_api_url: "https://api.clerk.com".to_owned(),
            auth_introspection_url: None,
            auth_introspection_client_id: None,
            auth_introspection_client_secret: None,
            docs_client_id: None,
        }
    }

    #[test]
    fn third_party_settings_name_the_variable_when_wrong() {
        let with = |change: fn(&mut AuthArgs)| {
            let mut args = AuthArgs {
                auth_issuer: Some("https://idp.example.com".to_owned()),
                ..no_third_party()
            };
            change(&mut args);
            auth_settings(&args)
        };
        let variable = |result: Result<AuthSettings, ConfigError>| result.unwrap_err().variable;
        assert_eq!(
            variable(with(
                |a| a.auth_resource = Some("https://api.example.com/v1".into())
            )),
            "AUTH_RESOURCE"
        );
        assert_eq!(
            variable(with(
                |a| a.auth_accepted_tokens = Some("oauth_token,jwt".into())
            )),
            "AUTH_ACCEPTED_TOKENS"
        );
        assert_eq!(
            variable(with(
                |a| a.auth_accepted_tokens = Some("session_token".into())
            )),
            "AUTH_ACCEPTED_TOKENS"
        );
        assert_eq!(
            variable(with(
                |a| a.auth_scope_map = Some("Quotes.Read=quotes:admin".into())
            )),
            "AUTH_SCOPE_MAP"
        );
        assert_eq!(
            variable(with(|a| a.auth_unscoped_tokens_grant_all = "maybe".into())),
            "AUTH_UNSCOPED_TOKENS_GRANT_ALL"
        );
        assert_eq!(
            variable(with(
                |a| a.auth_introspection_url = Some("https://idp.example.com/i".into())
            )),
            "AUTH_INTROSPECTION_URL"
        );
        assert_eq!(
            variable(with(|a| a.clerk_secret_key = Some("pk_test_x".into()))),
            "CLERK_SECRET_KEY"
        );
        let good = with(|a| {
            a.auth_resource = Some("https://api.example.com/".into());
            a.auth_scope_map = Some("api://quotes/Quotes.Read=quotes:read".into());
            a.auth_accepted_tokens = Some("oauth_token".into());
        })
        .unwrap();
        assert_eq!(good.resource.as_deref(), Some("https://api.example.com"));
        assert_eq!(
            good.scope_map,
            vec![("api://quotes/Quotes.Read".to_owned(), Scope::QuotesRead)]
        );
        assert!(!good.accepted().contains(TokenKind::Machine));
    }

    #[test]
    fn the_leeway_is_at_most_five_minutes() {
        assert_eq!(leeway("300").unwrap(), Duration::from_secs(300));
        let err = leeway("99999999999").unwrap_err();
        assert_eq!(err.variable, "AUTH_LEEWAY_SECS");
        assert!(err.to_string().contains("at most 300"), "{err}");
    }
}
