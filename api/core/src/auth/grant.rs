//! From what a token says to what it grants: the claims that carry scopes,
//! roles, the organisation, the actor and the factor age, read strictly (a
//! claim of the wrong shape denies, it never widens access), and the rules
//! every token kind passes last (accepted kinds, allowed clients, our
//! scope names).

use serde_json::Value;

use super::error::AuthError;
use super::principal::{
    Organization, Principal, Scope, Scopes, TokenKind, TokenKinds, is_valid_subject,
};
use super::settings::AuthSettings;

/// The claims of a grant that are not the token's envelope (issuer, times,
/// audience): as a JWT or an introspection answer carries them.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct GrantClaims {
    pub sub: Option<Value>,
    pub client_id: Option<Value>,
    pub azp: Option<Value>,
    /// RFC 8693 / RFC 9068: space-separated.
    pub scope: Option<Value>,
    /// Entra, Okta: a string or an array.
    pub scp: Option<Value>,
    /// Auth0's RBAC: API permissions.
    pub permissions: Option<Value>,
    /// Entra's app roles, Zitadel's and Keycloak's mapped roles.
    pub roles: Option<Value>,
    /// Cognito's groups.
    #[serde(rename = "cognito:groups")]
    pub cognito_groups: Option<Value>,
    /// RFC 8693's actor.
    pub act: Option<Value>,
    /// Clerk v2: the active organisation.
    pub o: Option<Value>,
    /// Clerk v1 and other providers: the active organisation.
    pub org_id: Option<Value>,
    pub org_role: Option<Value>,
    pub org_slug: Option<Value>,
    /// Clerk: minutes since each factor was verified, `-1` for never.
    pub fva: Option<Value>,
    /// Clerk v2: the plan and features, checked for their shape only.
    pub pla: Option<Value>,
    pub fea: Option<Value>,
    /// Auth0 marks client-credentials tokens so.
    pub gty: Option<Value>,
    /// Cognito: `access` or `id`.
    pub token_use: Option<Value>,
}

/// `aud`: one audience or a list.
#[derive(Debug, serde::Deserialize, Default)]
#[serde(untagged)]
pub(super) enum Audience {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub(super) fn is_none(&self) -> bool {
        matches!(self, Self::None)
    }

    pub(super) fn contains_any(&self, accepted: &[String]) -> bool {
        match self {
            Self::None => false,
            Self::One(aud) => accepted.contains(aud),
            Self::Many(auds) => auds.iter().any(|aud| accepted.contains(aud)),
        }
    }
}

/// The rules every principal passes last, whichever way it was verified.
#[derive(Debug, Clone)]
pub(super) struct GrantRules {
    pub accepted: TokenKinds,
    pub client_ids: Vec<String>,
    pub scope_map: Vec<(String, Scope)>,
    pub unscoped_tokens_grant_all: bool,
}

impl GrantRules {
    pub fn new(settings: &AuthSettings) -> Self {
        Self {
            accepted: settings.accepted(),
            client_ids: settings.client_ids.clone(),
            scope_map: settings.scope_map.clone(),
            unscoped_tokens_grant_all: settings.unscoped_tokens_grant_all,
        }
    }

    /// The principal `claims` make, for a token already known to be of
    /// `kind` (before the machine rule) and to be genuine.
    pub fn principal(&self, kind: TokenKind, claims: &GrantClaims) -> Result<Principal, AuthError> {
        let subject = match &claims.sub {
            Some(Value::String(sub)) if is_valid_subject(sub) => sub.clone(),
            _ => return Err(AuthError::Subject),
        };
        let client_id = optional_string(claims.client_id.as_ref(), "`client_id` must be a string")?;
        let azp = optional_string(claims.azp.as_ref(), "`azp` must be a string")?;
        if let Some(token_use) =
            optional_string(claims.token_use.as_ref(), "`token_use` must be a string")?
            && token_use != "access"
        {
            // Cognito's ID tokens are for the app, not for APIs.
            return Err(AuthError::TokenType);
        }
        let is_machine = kind == TokenKind::OAuth
            && (client_id.as_deref() == Some(subject.as_str())
                || matches!(&claims.gty, Some(Value::String(gty)) if gty == "client-credentials"));
        let kind = if is_machine { TokenKind::Machine } else { kind };
        if !self.accepted.contains(kind) {
            return Err(AuthError::TokenType);
        }
        // A session's client is the app itself (its `azp`, checked against
        // the authorized parties); any other token names the client it was
        // issued to.
        let client_id = client_id.or(azp);
        if kind != TokenKind::Session && !self.client_ids.is_empty() {
            let allowed = client_id
                .as_deref()
                .is_some_and(|client| self.client_ids.iter().any(|allowed| allowed == client));
            if !allowed {
                return Err(AuthError::Client);
            }
        }
        let roles = [
            string_list(claims.roles.as_ref(), "`roles` must be an array of strings")?,
            string_list(
                claims.cognito_groups.as_ref(),
                "`cognito:groups` must be an array of strings",
            )?,
        ]
        .concat();
        let mut names = Vec::new();
        if let Some(scope) = &claims.scope {
            let Value::String(scope) = scope else {
                return Err(AuthError::Claims(
                    "`scope` must be a space-separated string",
                ));
            };
            names.extend(scope.split_whitespace().map(str::to_owned));
        }
        match &claims.scp {
            None => {}
            Some(Value::String(scp)) => names.extend(scp.split_whitespace().map(str::to_owned)),
            Some(other) => names.extend(string_list(
                Some(other),
                "`scp` must be a string or an array of strings",
            )?),
        }
        names.extend(string_list(
            claims.permissions.as_ref(),
            "`permissions` must be an array of strings",
        )?);
        names.extend(roles.iter().cloned());
        let granted: Scopes = names.iter().filter_map(|name| self.scope(name)).collect();
        let scopes = if kind == TokenKind::Session
            || (granted.is_empty() && self.unscoped_tokens_grant_all)
        {
            Scopes::ALL
        } else {
            granted
        };
        check_shape(claims.pla.as_ref(), claims.fea.as_ref())?;
        Ok(Principal {
            subject,
            kind,
            client_id,
            scopes,
            organization: organization(claims)?,
            roles,
            actor: actor(claims.act.as_ref())?,
            factor_age: factor_age(claims.fva.as_ref())?,
        })
    }

    /// Our scope for a provider's `name`: ours as written, or mapped.
    fn scope(&self, name: &str) -> Option<Scope> {
        Scope::parse(name).or_else(|| {
            self.scope_map
                .iter()
                .find(|(theirs, _)| theirs == name)
                .map(|(_, ours)| *ours)
        })
    }
}

fn optional_string(
    value: Option<&Value>,
    wrong: &'static str,
) -> Result<Option<String>, AuthError> {
    match value {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(AuthError::Claims(wrong)),
    }
}

/// At most this many names are read from one list claim: a token is at
/// most 8 KiB, but an introspection answer could be larger.
const MAX_NAMES: usize = 256;

fn string_list(value: Option<&Value>, wrong: &'static str) -> Result<Vec<String>, AuthError> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) if items.len() <= MAX_NAMES => items
            .iter()
            .map(|item| match item {
                Value::String(name) => Ok(name.clone()),
                _ => Err(AuthError::Claims(wrong)),
            })
            .collect(),
        Some(_) => Err(AuthError::Claims(wrong)),
    }
}

fn organization(claims: &GrantClaims) -> Result<Option<Organization>, AuthError> {
    const WRONG_O: &str = "`o` must be an object with a string `id`";
    if let Some(o) = &claims.o {
        let Value::Object(o) = o else {
            return Err(AuthError::Claims(WRONG_O));
        };
        let Some(Value::String(id)) = o.get("id") else {
            return Err(AuthError::Claims(WRONG_O));
        };
        return Ok(Some(Organization {
            id: id.clone(),
            role: optional_string(o.get("rol"), "`o.rol` must be a string")?,
            slug: optional_string(o.get("slg"), "`o.slg` must be a string")?,
        }));
    }
    let Some(id) = optional_string(claims.org_id.as_ref(), "`org_id` must be a string")? else {
        return Ok(None);
    };
    Ok(Some(Organization {
        id,
        role: optional_string(claims.org_role.as_ref(), "`org_role` must be a string")?,
        slug: optional_string(claims.org_slug.as_ref(), "`org_slug` must be a string")?,
    }))
}

fn actor(act: Option<&Value>) -> Result<Option<String>, AuthError> {
    const WRONG: &str = "`act` must be an object with a string `sub`";
    match act {
        None => Ok(None),
        Some(Value::Object(act)) => match act.get("sub") {
            Some(Value::String(sub)) if is_valid_subject(sub) => Ok(Some(sub.clone())),
            _ => Err(AuthError::Claims(WRONG)),
        },
        Some(_) => Err(AuthError::Claims(WRONG)),
    }
}

#[expect(clippy::type_complexity, reason = "two optional ages")]
fn factor_age(fva: Option<&Value>) -> Result<Option<(Option<u32>, Option<u32>)>, AuthError> {
    const WRONG: &str = "`fva` must be two whole numbers of minutes";
    let Some(fva) = fva else {
        return Ok(None);
    };
    let age = |value: &Value| match value.as_i64() {
        Some(-1) => Ok(None),
        Some(minutes) => u32::try_from(minutes)
            .map(Some)
            .map_err(|_| AuthError::Claims(WRONG)),
        None => Err(AuthError::Claims(WRONG)),
    };
    match fva.as_array().map(Vec::as_slice) {
        Some([first, second]) => Ok(Some((age(first)?, age(second)?))),
        _ => Err(AuthError::Claims(WRONG)),
    }
}

/// Clerk's `pla` is a string and `fea` a comma-separated string.
fn check_shape(pla: Option<&Value>, fea: Option<&Value>) -> Result<(), AuthError> {
    optional_string(pla, "`pla` must be a string")?;
    optional_string(fea, "`fea` must be a string")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rules() -> GrantRules {
        GrantRules {
            accepted: TokenKind::ALL.into_iter().collect(),
            client_ids: Vec::new(),
            scope_map: vec![("api://quotes/Quotes.Read".to_owned(), Scope::QuotesRead)],
            unscoped_tokens_grant_all: false,
        }
    }

    fn grant(claims: Value) -> Result<Principal, AuthError> {
        let claims: GrantClaims = serde_json::from_value(claims).unwrap();
        rules().principal(TokenKind::OAuth, &claims)
    }

    #[test]
    fn scopes_come_from_every_spelling() {
        let read: Scopes = [Scope::QuotesRead].into_iter().collect();
        for claims in [
            json!({"sub": "u", "scope": "openid quotes:read"}),
            json!({"sub": "u", "scp": "quotes:read"}),
            json!({"sub": "u", "scp": ["quotes:read", "other"]}),
            json!({"sub": "u", "permissions": ["quotes:read"]}),
            json!({"sub": "u", "roles": ["api://quotes/Quotes.Read"]}),
        ] {
            assert_eq!(grant(claims.clone()).unwrap().scopes, read, "{claims}");
        }
        assert_eq!(
            grant(json!({"sub": "u", "scope": "quotes:write quotes:read"}))
                .unwrap()
                .scopes,
            Scopes::ALL
        );
        assert!(grant(json!({"sub": "u"})).unwrap().scopes.is_empty());
    }

    #[test]
    fn malformed_claims_deny() {
        for claims in [
            json!({"sub": "u", "scope": ["quotes:read"]}),
            json!({"sub": "u", "scp": 1}),
            json!({"sub": "u", "scp": ["quotes:read", 2]}),
            json!({"sub": "u", "permissions": "quotes:read"}),
            json!({"sub": "u", "roles": {"a": 1}}),
            json!({"sub": "u", "act": "admin"}),
            json!({"sub": "u", "act": {"sub": 3}}),
            json!({"sub": "u", "o": {"rol": "admin"}}),
            json!({"sub": "u", "o": "org_1"}),
            json!({"sub": "u", "fva": [1]}),
            json!({"sub": "u", "fva": ["1", 2]}),
            json!({"sub": "u", "client_id": 5}),
            json!({"sub": "u", "pla": 1}),
            json!({"sub": 7}),
        ] {
            assert!(grant(claims.clone()).is_err(), "{claims}");
        }
    }

    #[test]
    fn the_rest_of_the_principal_is_read() {
        let principal = grant(json!({
            "sub": "user_1", "client_id": "cli", "scope": "quotes:read",
            "o": {"id": "org_1", "rol": "admin", "slg": "acme"},
            "act": {"sub": "user_admin"}, "fva": [3, -1],
        }))
        .unwrap();
        assert_eq!(principal.kind, TokenKind::OAuth);
        assert_eq!(principal.client_id.as_deref(), Some("cli"));
        assert_eq!(principal.actor.as_deref(), Some("user_admin"));
        assert_eq!(principal.factor_age, Some((Some(3), None)));
        let org = principal.organization.unwrap();
        assert_eq!(
            (org.id.as_str(), org.role.as_deref()),
            ("org_1", Some("admin"))
        );
    }

    #[test]
    fn a_client_acting_for_itself_is_a_machine() {
        let machine = grant(json!({"sub": "svc", "client_id": "svc", "scope": "quotes:read"}));
        assert_eq!(machine.unwrap().kind, TokenKind::Machine);
        let auth0 = grant(json!({"sub": "abc@clients", "azp": "abc", "gty": "client-credentials"}));
        assert_eq!(auth0.unwrap().kind, TokenKind::Machine);
        let mut only_users = rules();
        only_users.accepted = [TokenKind::OAuth].into_iter().collect();
        let claims: GrantClaims =
            serde_json::from_value(json!({"sub": "svc", "client_id": "svc"})).unwrap();
        assert_eq!(
            only_users.principal(TokenKind::OAuth, &claims),
            Err(AuthError::TokenType)
        );
    }

    #[test]
    fn only_listed_clients_pass_when_there_is_a_list() {
        let mut listed = rules();
        listed.client_ids = vec!["cli".to_owned()];
        let claims = |client: &str| -> GrantClaims {
            serde_json::from_value(json!({"sub": "u", "client_id": client})).unwrap()
        };
        assert!(listed.principal(TokenKind::OAuth, &claims("cli")).is_ok());
        assert_eq!(
            listed.principal(TokenKind::OAuth, &claims("other")),
            Err(AuthError::Client)
        );
        let none: GrantClaims = serde_json::from_value(json!({"sub": "u"})).unwrap();
        assert_eq!(
            listed.principal(TokenKind::OAuth, &none),
            Err(AuthError::Client)
        );
    }

    #[test]
    fn sessions_hold_every_scope_and_unscoped_tokens_none_unless_migrating() {
        let claims: GrantClaims = serde_json::from_value(json!({"sub": "u"})).unwrap();
        assert_eq!(
            rules()
                .principal(TokenKind::Session, &claims)
                .unwrap()
                .scopes,
            Scopes::ALL
        );
        let mut migrating = rules();
        migrating.unscoped_tokens_grant_all = true;
        assert_eq!(
            migrating
                .principal(TokenKind::OAuth, &claims)
                .unwrap()
                .scopes,
            Scopes::ALL
        );
        let cognito_id_token: GrantClaims =
            serde_json::from_value(json!({"sub": "u", "token_use": "id"})).unwrap();
        assert_eq!(
            rules().principal(TokenKind::OAuth, &cognito_id_token),
            Err(AuthError::TokenType)
        );
    }
}
