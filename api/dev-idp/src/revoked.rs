//! Access tokens revoked before their time (RFC 7009), by `jti`: kept until
//! the token would have expired anyway, so that introspection calls them
//! inactive. The API verifies tokens on its own and never asks; only
//! introspection knows.
//!
//! The set is bounded. When it is full of tokens that are all still live,
//! a new revocation is refused (the endpoint answers 503, and the client
//! retries) rather than one that was promised forgotten.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Most revoked tokens remembered at once.
pub const MAX_REVOKED: usize = 4096;

/// Revoked `jti`s and when each token expires (seconds since 1970).
#[derive(Debug, Default)]
pub struct Revoked {
    tokens: Mutex<HashMap<String, u64>>,
}

/// No room to remember one more revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many tokens are revoked at once")]
pub struct Full;

impl Revoked {
    /// Remembers that the tokens `jtis` (with their `exp`) are revoked.
    /// Those expired by `now` need no remembering.
    pub fn revoke(&self, jtis: &[(String, u64)], now: u64) -> Result<(), Full> {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens.retain(|_, exp| *exp > now);
        let live: Vec<_> = jtis.iter().filter(|(_, exp)| *exp > now).collect();
        let new = live
            .iter()
            .filter(|(jti, _)| !tokens.contains_key(jti))
            .count();
        if tokens.len() + new > MAX_REVOKED {
            return Err(Full);
        }
        for (jti, exp) in live {
            tokens.insert(jti.clone(), *exp);
        }
        Ok(())
    }

    /// Whether the token `jti` was revoked.
    pub fn contains(&self, jti: &str) -> bool {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(jti)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revocation_is_kept_until_the_token_expires() {
        let revoked = Revoked::default();
        revoked.revoke(&[("a".to_owned(), 100)], 10).unwrap();
        assert!(revoked.contains("a"));
        assert!(!revoked.contains("b"));
        // Expired ones make room, and are not kept.
        revoked.revoke(&[("b".to_owned(), 50)], 100).unwrap();
        assert!(!revoked.contains("a"));
        assert!(!revoked.contains("b"));
    }

    #[test]
    fn a_full_set_refuses_rather_than_forgets() {
        let revoked = Revoked::default();
        let many: Vec<_> = (0..MAX_REVOKED).map(|n| (n.to_string(), 1000)).collect();
        revoked.revoke(&many, 0).unwrap();
        assert_eq!(revoked.revoke(&[("x".to_owned(), 1000)], 0), Err(Full));
        assert!(revoked.contains("0"));
        // Revoking one already revoked needs no room.
        assert_eq!(revoked.revoke(&[("0".to_owned(), 1000)], 0), Ok(()));
        // Once they expire, there is room again.
        assert_eq!(revoked.revoke(&[("x".to_owned(), 2000)], 1000), Ok(()));
        assert!(revoked.contains("x"));
    }
}
