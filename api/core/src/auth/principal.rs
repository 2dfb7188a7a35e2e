//! What a verified token grants: whom it speaks for, through which client,
//! and which of the API's scopes. The verifier yields a [`Principal`]; the
//! HTTP edge compares its [`Scopes`] with what an operation needs.

use std::fmt;

/// Longest accepted `sub`.
pub const MAX_SUBJECT_CHARS: usize = 255;

/// A user id as this API keeps it: not empty, at most
/// [`MAX_SUBJECT_CHARS`] characters, and free of control characters, which
/// no provider issues and Postgres refuses (NUL). Webhook deliveries name
/// users by the same rule.
pub fn is_valid_subject(sub: &str) -> bool {
    !sub.is_empty()
        && sub.chars().count() <= MAX_SUBJECT_CHARS
        && !sub.chars().any(char::is_control)
}

/// One of the API's scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Read the caller's quote.
    QuotesRead,
    /// Replace or delete the caller's quote. It does not imply
    /// [`Scope::QuotesRead`]: a client that only writes (a publisher) need
    /// not be able to read back what the person keeps.
    QuotesWrite,
}

impl Scope {
    /// Every scope, in the order documents list them.
    pub const ALL: [Self; 2] = [Self::QuotesRead, Self::QuotesWrite];

    /// The scope as tokens and documents spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::QuotesRead => "quotes:read",
            Self::QuotesWrite => "quotes:write",
        }
    }

    /// What the scope lets a client do, for people choosing what to grant.
    pub const fn description(self) -> &'static str {
        match self {
            Self::QuotesRead => "Read your quote",
            Self::QuotesWrite => "Replace or delete your quote",
        }
    }

    /// The scope spelled `name`, if it is one of ours.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == name)
    }

    const fn bit(self) -> u8 {
        match self {
            Self::QuotesRead => 1,
            Self::QuotesWrite => 2,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`Scope`]s; displayed space-separated, as OAuth writes them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Scopes(u8);

impl Scopes {
    /// No scope at all.
    pub const NONE: Self = Self(0);
    /// Every scope: what a first-party session holds.
    pub const ALL: Self = Self(3);

    /// Whether `scope` is in the set.
    pub const fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// The set with `scope` added.
    #[must_use]
    pub const fn with(self, scope: Scope) -> Self {
        Self(self.0 | scope.bit())
    }

    /// The scopes of `required` this set lacks.
    #[must_use]
    pub const fn missing(self, required: Self) -> Self {
        Self(required.0 & !self.0)
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes in the set, in [`Scope::ALL`]'s order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL
            .into_iter()
            .filter(move |scope| self.contains(*scope))
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        iter.into_iter().fold(Self::NONE, Self::with)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scopes({self})")
    }
}

/// The kinds of token the API can accept, each switched on by a setting
/// (`AUTH_ACCEPTED_TOKENS`), as Clerk's `acceptsToken` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A first-party browser session (Clerk's session token): every scope.
    Session,
    /// An OAuth access token a user granted a client: a JWT (RFC 9068, or
    /// an OpenID provider's access token) or an opaque one checked with the
    /// provider; the scopes it carries.
    OAuth,
    /// An API key (Clerk's `ak_…`), checked with the provider.
    ApiKey,
    /// A client acting for itself (client credentials): no user.
    Machine,
}

impl TokenKind {
    /// Every kind.
    pub const ALL: [Self; 4] = [Self::Session, Self::OAuth, Self::ApiKey, Self::Machine];

    /// The kind as `AUTH_ACCEPTED_TOKENS` names it (Clerk's names).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session_token",
            Self::OAuth => "oauth_token",
            Self::ApiKey => "api_key",
            Self::Machine => "m2m_token",
        }
    }

    /// The kind `AUTH_ACCEPTED_TOKENS` spells `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    const fn bit(self) -> u8 {
        match self {
            Self::Session => 1,
            Self::OAuth => 2,
            Self::ApiKey => 4,
            Self::Machine => 8,
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The token kinds a deployment accepts.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenKinds(u8);

impl TokenKinds {
    pub const fn contains(self, kind: TokenKind) -> bool {
        self.0 & kind.bit() != 0
    }

    #[must_use]
    pub const fn with(self, kind: TokenKind) -> Self {
        Self(self.0 | kind.bit())
    }

    pub fn iter(self) -> impl Iterator<Item = TokenKind> {
        TokenKind::ALL
            .into_iter()
            .filter(move |kind| self.contains(*kind))
    }
}

impl FromIterator<TokenKind> for TokenKinds {
    fn from_iter<I: IntoIterator<Item = TokenKind>>(iter: I) -> Self {
        iter.into_iter().fold(Self::default(), Self::with)
    }
}

impl fmt::Debug for TokenKinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The organisation a token acts in (Clerk's `o`, or `org_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: String,
    /// The member's role in it, when the token says.
    pub role: Option<String>,
    pub slug: Option<String>,
}

/// What a verified token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's subject: a user's id, or for a machine its client's.
    pub subject: String,
    pub kind: TokenKind,
    /// The OAuth client the token was issued to (`client_id`, or `azp`).
    pub client_id: Option<String>,
    pub scopes: Scopes,
    pub organization: Option<Organization>,
    /// Roles or permissions the provider lists (`roles`, `permissions`).
    pub roles: Vec<String>,
    /// Who acts for the subject (`act.sub`): an impersonating admin, an
    /// agent.
    pub actor: Option<String>,
    /// Minutes since the first and the second factor were verified
    /// (Clerk's `fva`; `None` where a factor never was).
    pub factor_age: Option<(Option<u32>, Option<u32>)>,
}

impl Principal {
    /// The user the token speaks for; `None` for a machine, or an API key
    /// that belongs to an organisation or a machine rather than a person.
    pub fn user_id(&self) -> Option<&str> {
        match self.kind {
            TokenKind::Session | TokenKind::OAuth => Some(&self.subject),
            TokenKind::ApiKey if !is_clerk_non_user(&self.subject) => Some(&self.subject),
            TokenKind::ApiKey | TokenKind::Machine => None,
        }
    }
}

/// Clerk names organisations `org_…` and machines `mch_…`.
fn is_clerk_non_user(subject: &str) -> bool {
    subject.starts_with("org_") || subject.starts_with("mch_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_a_set_written_as_oauth_writes_them() {
        let read: Scopes = [Scope::QuotesRead].into_iter().collect();
        assert_eq!(read.to_string(), "quotes:read");
        assert_eq!(Scopes::ALL.to_string(), "quotes:read quotes:write");
        assert_eq!(Scopes::NONE.to_string(), "");
        assert_eq!(
            read.missing(Scopes::ALL),
            [Scope::QuotesWrite].into_iter().collect()
        );
        assert!(Scopes::ALL.missing(read).is_empty());
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::parse("quotes:admin"), None);
    }

    #[test]
    fn machines_and_organisations_are_not_users() {
        let principal = |kind, subject: &str| Principal {
            subject: subject.to_owned(),
            kind,
            client_id: None,
            scopes: Scopes::ALL,
            organization: None,
            roles: Vec::new(),
            actor: None,
            factor_age: None,
        };
        assert_eq!(
            principal(TokenKind::OAuth, "user_1").user_id(),
            Some("user_1")
        );
        assert_eq!(principal(TokenKind::Machine, "svc").user_id(), None);
        assert_eq!(principal(TokenKind::ApiKey, "org_1").user_id(), None);
        assert_eq!(principal(TokenKind::ApiKey, "mch_1").user_id(), None);
        assert_eq!(
            principal(TokenKind::ApiKey, "user_1").user_id(),
            Some("user_1")
        );
    }
}
