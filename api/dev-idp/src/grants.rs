//! What a token grants: the API scopes (`quotes:read`, `quotes:write`), the
//! OpenID scopes that shape the sign-in, and the one resource (RFC 8707)
//! the provider issues tokens for. Plain values and rules, known to every
//! other part of the provider and knowing none of them.

use url::Url;

/// Reading the quote: `GET`/`HEAD /me/quote`.
pub const READ: &str = "quotes:read";

/// Changing it: `PUT`/`DELETE /me/quote`. It does not imply [`READ`].
pub const WRITE: &str = "quotes:write";

/// The scopes of OpenID Connect the provider knows: they shape the
/// sign-in and its answer, and grant nothing at the API.
pub const OPENID_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// Every scope the provider knows, as discovery lists them.
pub const SUPPORTED_SCOPES: [&str; 5] = ["openid", "profile", "offline_access", READ, WRITE];

/// A set of API scopes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiScopes {
    pub read: bool,
    pub write: bool,
}

/// A scope the provider does not know, where only API scopes belong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?}: the API's scopes are quotes:read and quotes:write")]
pub struct UnknownScope(pub String);

impl ApiScopes {
    /// Both API scopes.
    pub const ALL: Self = Self {
        read: true,
        write: true,
    };

    /// No API scope.
    pub const NONE: Self = Self {
        read: false,
        write: false,
    };

    /// The API scopes named in a space-separated `scope`; other values are
    /// not API scopes and are passed over.
    pub fn among(scope: &str) -> Self {
        let mut scopes = Self::NONE;
        for value in scope.split_ascii_whitespace() {
            scopes.add(value);
        }
        scopes
    }

    /// The API scopes of a space-separated list in which nothing else may
    /// appear (a client's registration, `dev-token --scope`, a client
    /// credentials request).
    pub fn parse(scope: &str) -> Result<Self, UnknownScope> {
        let mut scopes = Self::NONE;
        for value in scope.split_ascii_whitespace() {
            if !scopes.add(value) {
                return Err(UnknownScope(value.to_owned()));
            }
        }
        Ok(scopes)
    }

    /// Adds `value` when it is an API scope; false otherwise.
    fn add(&mut self, value: &str) -> bool {
        match value {
            READ => self.read = true,
            WRITE => self.write = true,
            _ => return false,
        }
        true
    }

    /// The scopes in both sets.
    #[must_use]
    pub fn and(self, other: Self) -> Self {
        Self {
            read: self.read && other.read,
            write: self.write && other.write,
        }
    }

    /// Whether every scope of `self` is in `other`.
    pub fn within(self, other: Self) -> bool {
        self.and(other) == self
    }

    pub fn is_empty(self) -> bool {
        self == Self::NONE
    }

    /// The scopes by name, read first.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        [(self.read, READ), (self.write, WRITE)]
            .into_iter()
            .filter_map(|(held, name)| held.then_some(name))
    }
}

/// As the `scope` claim and parameter write them: space-separated, read
/// first; empty for none.
impl std::fmt::Display for ApiScopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.names().collect::<Vec<_>>().join(" "))
    }
}

/// The `scope` of a token answer: the OpenID scopes the request named, in
/// its order, then the API scopes granted. Scopes the provider does not
/// know are left out: they were not granted.
pub fn answered_scope(requested: &str, granted: ApiScopes) -> String {
    let mut scope: Vec<&str> = Vec::new();
    for value in requested.split_ascii_whitespace() {
        if OPENID_SCOPES.contains(&value) && !scope.contains(&value) {
            scope.push(value);
        }
    }
    scope.extend(granted.names().map(|name| -> &str { name }));
    scope.join(" ")
}

/// The one resource the provider issues tokens for (RFC 8707): the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// As configured: what a bound token's `aud` says.
    name: String,
    /// The same, parsed, to compare requests with.
    url: Url,
}

/// A `resource` the provider does not serve (`invalid_target`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the only resource served is the API")]
pub struct OtherResource;

impl Resource {
    /// A resource named by an absolute http(s) URL without a fragment
    /// (RFC 8707 §2).
    pub fn new(name: &str) -> Result<Self, String> {
        let url = Url::parse(name).map_err(|_| "expected an absolute URL".to_owned())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("expected an http or https URL".to_owned());
        }
        if url.fragment().is_some() {
            return Err("a resource has no fragment".to_owned());
        }
        Ok(Self {
            name: name.to_owned(),
            url,
        })
    }

    /// What bound tokens carry as `aud`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks a request's `resource`: the same URL as this one (compared
    /// parsed, so `http://127.0.0.1:8080/` names `http://127.0.0.1:8080`).
    pub fn check(&self, requested: &str) -> Result<(), OtherResource> {
        match Url::parse(requested) {
            Ok(url) if url == self.url => Ok(()),
            _ => Err(OtherResource),
        }
    }

    /// The audience a grant binds: this resource when any of `requested`
    /// named it, none when none did, an error when one named another.
    pub fn audience<'a>(
        &self,
        requested: impl IntoIterator<Item = Option<&'a str>>,
    ) -> Result<Option<String>, OtherResource> {
        let mut bound = false;
        for raw in requested.into_iter().flatten() {
            self.check(raw)?;
            bound = true;
        }
        Ok(bound.then(|| self.name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_scopes_are_read_from_a_scope_and_written_read_first() {
        let scopes = ApiScopes::among("openid quotes:write unknown quotes:read");
        assert_eq!(scopes, ApiScopes::ALL);
        assert_eq!(scopes.to_string(), "quotes:read quotes:write");
        assert_eq!(ApiScopes::among("openid profile"), ApiScopes::NONE);
        assert_eq!(ApiScopes::NONE.to_string(), "");
        assert_eq!(
            ApiScopes::parse(" quotes:read "),
            Ok(ApiScopes {
                read: true,
                write: false
            })
        );
        assert_eq!(
            ApiScopes::parse("quotes:read openid"),
            Err(UnknownScope("openid".to_owned()))
        );
        assert_eq!(ApiScopes::parse(""), Ok(ApiScopes::NONE));
    }

    #[test]
    fn write_does_not_include_read() {
        let write = ApiScopes::among(WRITE);
        assert!(!write.read);
        assert!(!ApiScopes::among(READ).within(write));
        assert!(write.within(ApiScopes::ALL));
        assert!(ApiScopes::NONE.within(write));
    }

    #[test]
    fn the_answered_scope_keeps_openid_scopes_and_the_granted_api_scopes() {
        let read = ApiScopes::among(READ);
        assert_eq!(
            answered_scope("profile openid quotes:write quotes:read openid x", read),
            "profile openid quotes:read"
        );
        assert_eq!(
            answered_scope("openid profile", ApiScopes::NONE),
            "openid profile"
        );
    }

    #[test]
    fn the_one_resource_is_compared_as_a_url() {
        let api = Resource::new("http://127.0.0.1:8080").unwrap();
        assert_eq!(api.check("http://127.0.0.1:8080/"), Ok(()));
        assert_eq!(api.check("HTTP://127.0.0.1:8080"), Ok(()));
        for other in [
            "http://127.0.0.1:8081",
            "http://localhost:8080",
            "https://127.0.0.1:8080",
            "http://127.0.0.1:8080/me",
            "not a url",
            "",
        ] {
            assert_eq!(api.check(other), Err(OtherResource), "{other}");
        }
        assert_eq!(api.audience([None, None]), Ok(None));
        assert_eq!(
            api.audience([None, Some("http://127.0.0.1:8080/")]),
            Ok(Some("http://127.0.0.1:8080".to_owned()))
        );
        assert_eq!(
            api.audience([Some("http://127.0.0.1:8080"), Some("http://x.example")]),
            Err(OtherResource)
        );
        assert!(Resource::new("ftp://x.example").is_err());
        assert!(Resource::new("http://x.example/#f").is_err());
        assert!(Resource::new("/relative").is_err());
    }
}
