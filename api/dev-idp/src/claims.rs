//! The shapes of the tokens the provider signs, as plain data:
//!
//! - access tokens, RFC 9068 JWTs (header `typ: at+jwt`): `iss`, `sub`,
//!   `client_id`, `scope` (the granted API scopes, space-separated), `jti`,
//!   `iat`, `nbf`, `exp`, and `aud` when the grant is bound to the
//!   resource; a machine's (client credentials) has `sub` = `client_id`;
//! - ID tokens (OpenID Connect Core §2, `typ: JWT`): `iss`, `sub`, `name`,
//!   `iat`, `nbf`, `exp`, `aud` = the client, and the request's `nonce`;
//! - Clerk-style session tokens (version 2, header `cat`), which only
//!   `quotes-api dev-token --clerk` prints, for tests of Clerk's shape.

use serde::{Deserialize, Serialize};

use super::grants::ApiScopes;

/// What an access token is worth: whom it speaks for, to which client,
/// with which API scopes, for which resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    /// A user, or for a machine the client itself.
    pub subject: String,
    pub client_id: String,
    pub scopes: ApiScopes,
    /// The resource it is bound to (RFC 8707), which becomes `aud`.
    pub audience: Option<String>,
}

/// The `client_id` of the tokens `quotes-api dev-token` prints unless told
/// otherwise.
pub const DEV_TOKEN_CLIENT: &str = "dev-token";

impl AccessGrant {
    /// What `quotes-api dev-token USER` prints: both API scopes, for the
    /// client `dev-token`, bound to no resource.
    pub fn dev_token(user: &str) -> Self {
        Self {
            subject: user.to_owned(),
            client_id: DEV_TOKEN_CLIENT.to_owned(),
            scopes: ApiScopes::ALL,
            audience: None,
        }
    }
}

/// What `quotes-api dev-token` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevToken {
    /// An access token, as the token endpoint issues them.
    Access(AccessGrant),
    /// A Clerk-style session token (`--clerk`).
    ClerkSession(ClerkSession),
}

/// An access token's claims (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub client_id: String,
    pub scope: String,
    pub jti: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// The times of a token signed `now` (seconds since 1970) to live `ttl`
/// seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    pub now: u64,
    pub ttl: u64,
}

impl AccessClaims {
    /// The claims of `grant`, signed by `iss`, known by `jti`.
    pub fn new(iss: &str, grant: &AccessGrant, jti: String, at: Lifetime) -> Self {
        Self {
            iss: iss.to_owned(),
            sub: grant.subject.clone(),
            client_id: grant.client_id.clone(),
            scope: grant.scopes.to_string(),
            jti,
            iat: at.now,
            nbf: at.now,
            exp: at.now.saturating_add(at.ttl),
            aud: grant.audience.clone(),
        }
    }
}

/// An ID token's claims.
#[derive(Debug, Serialize)]
pub struct IdClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub name: &'a str,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    /// The client it is addressed to.
    pub aud: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
}

/// The `cat` header of Clerk's session tokens: the instance's key id for
/// its cookie, constant in Clerk's own examples; the tokens printed carry
/// it so that a verifier can recognise the shape.
pub const CLERK_CAT: &str = "cl_B7d4PD111AAA";

/// A Clerk session (version 2) to print a token of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClerkSession {
    pub user: String,
    /// `azp`: the origin of the page that asked (the app's).
    pub authorized_party: String,
    /// `o`: the active organization, if any.
    pub organization: Option<Organization>,
    /// `act.sub`: who is impersonating `user`, if anyone.
    pub actor: Option<String>,
}

/// The active organization of a Clerk session: `o` in version 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organization {
    pub id: String,
    /// The role, without Clerk's `org:` prefix (`admin`, `member`).
    pub rol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slg: Option<String>,
}

impl std::str::FromStr for Organization {
    type Err = String;

    /// `ID:ROLE` or `ID:ROLE:SLUG`, e.g. `org_2abc:admin:acme`.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let mut parts = raw.split(':');
        let (Some(id), Some(rol), slg, None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("expected ID:ROLE or ID:ROLE:SLUG, e.g. org_2abc:admin:acme".to_owned());
        };
        if [Some(id), Some(rol), slg]
            .into_iter()
            .flatten()
            .any(|part| part.trim().is_empty() || part.chars().any(char::is_control))
        {
            return Err("the organization's id, role and slug cannot be empty".to_owned());
        }
        Ok(Self {
            id: id.to_owned(),
            rol: rol.to_owned(),
            slg: slg.map(str::to_owned),
        })
    }
}

/// A Clerk session token's claims (version 2).
#[derive(Debug, Serialize)]
pub struct ClerkClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub v: u8,
    pub sid: String,
    pub azp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub o: Option<&'a Organization>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor<'a>>,
}

/// RFC 8693 §4.1: who acts for the subject.
#[derive(Debug, Serialize)]
pub struct Actor<'a> {
    pub sub: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_claims_carry_the_grant_and_aud_only_when_bound() {
        let mut grant = AccessGrant::dev_token("alice");
        let at = Lifetime { now: 100, ttl: 60 };
        let claims = AccessClaims::new("http://i", &grant, "j".to_owned(), at);
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "iss": "http://i", "sub": "alice", "client_id": "dev-token",
                "scope": "quotes:read quotes:write", "jti": "j",
                "iat": 100, "nbf": 100, "exp": 160,
            })
        );
        grant.audience = Some("http://api".to_owned());
        grant.scopes = ApiScopes::NONE;
        let json = serde_json::to_value(AccessClaims::new("http://i", &grant, "j".to_owned(), at))
            .unwrap();
        assert_eq!(json["aud"], "http://api");
        assert_eq!(json["scope"], "");
    }

    #[test]
    fn organizations_are_read_from_id_role_and_slug() {
        let org: Organization = "org_1:admin:acme".parse().unwrap();
        assert_eq!(
            serde_json::to_value(&org).unwrap(),
            serde_json::json!({"id": "org_1", "rol": "admin", "slg": "acme"})
        );
        let org: Organization = "org_1:member".parse().unwrap();
        assert_eq!(org.slg, None);
        for bad in ["org_1", "org_1::acme", ":admin", "a:b:c:d", "org_1:admin:"] {
            assert!(bad.parse::<Organization>().is_err(), "{bad}");
        }
    }
}
