//! What the app keeps in the tab's `sessionStorage`, all in one table:
//!
//! | key | what | from | until |
//! | --- | --- | --- | --- |
//! | `quotes.oidc.pending` | state, nonce and PKCE verifier of a sign-in | leaving for the provider | coming back (single use) |
//! | `quotes.signed_in` | `"1"`: this tab is signed in (OpenID Connect) | a completed sign-in | sign-out, a refused token, a failed restore |
//! | `quotes.draft` | the editor's unsaved text, and whose it is | typing | saving, deleting, signing out |
//!
//! Never a token: access, ID and refresh tokens stay in memory
//! ([`crate::auth`]), where another script on the page cannot read them
//! back from storage and nothing outlives the tab. `sessionStorage` is the
//! tab's own: it survives reloads and the trip to the provider and back,
//! and is gone when the tab closes.

use serde::{Deserialize, Serialize};

/// `sessionStorage` key of a sign-in in progress.
pub const PENDING_SIGN_IN: &str = "quotes.oidc.pending";
/// `sessionStorage` key of the signed-in marker.
pub const SIGNED_IN: &str = "quotes.signed_in";
/// `sessionStorage` key of the unsaved draft.
pub const DRAFT: &str = "quotes.draft";

/// The tab's `sessionStorage`, when the browser allows it.
pub fn session_storage() -> Result<web_sys::Storage, String> {
    web_sys::window()
        .and_then(|w| w.session_storage().ok().flatten())
        .ok_or_else(|| "This browser does not allow session storage.".to_owned())
}

/// The value under `key`, if any.
pub fn get(key: &str) -> Option<String> {
    session_storage().ok()?.get_item(key).ok().flatten()
}

/// Keeps `value` under `key`.
pub fn set(key: &str, value: &str) -> Result<(), String> {
    session_storage()?
        .set_item(key, value)
        .map_err(|_| "This browser does not allow session storage.".to_owned())
}

/// Forgets `key`; nothing happens when storage is unavailable.
pub fn remove(key: &str) {
    if let Ok(storage) = session_storage() {
        let _ = storage.remove_item(key);
    }
}

/// Whether this tab was signed in before this page load.
pub fn signed_in_marker() -> bool {
    get(SIGNED_IN).as_deref() == Some("1")
}

/// Marks this tab as signed in, or not.
pub fn set_signed_in_marker(signed_in: bool) {
    if signed_in {
        // Without storage a reload signs out, as it did before.
        let _ = set(SIGNED_IN, "1");
    } else {
        remove(SIGNED_IN);
    }
}

/// The unsaved draft as stored: the text and the user it belongs to, so
/// that someone else signing in on this tab after a refused token does not
/// get it.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub user: String,
    pub text: String,
}

impl Draft {
    /// The text of a stored draft (`raw`) if it is `user`'s.
    pub fn text_for(raw: &str, user: &str) -> Option<String> {
        crate::json::from_str::<Draft>(raw)
            .ok()
            .filter(|draft| draft.user == user)
            .map(|draft| draft.text)
    }
}

/// `user`'s unsaved draft, if one was kept.
pub fn draft_for(user: &str) -> Option<String> {
    Draft::text_for(&get(DRAFT)?, user)
}

/// Keeps `text` as `user`'s unsaved draft.
pub fn keep_draft(user: &str, text: &str) {
    let draft = Draft {
        user: user.to_owned(),
        text: text.to_owned(),
    };
    if let Ok(raw) = crate::json::to_string(&draft) {
        // Without storage the draft lives as long as the page, as before.
        let _ = set(DRAFT, &raw);
    }
}

/// Forgets the draft (saved, deleted, or signed out).
pub fn forget_draft() {
    remove(DRAFT);
}

#[cfg(test)]
mod tests {
    use super::Draft;

    #[test]
    fn a_draft_is_only_its_owners() {
        let raw = crate::json::to_string(&Draft {
            user: "alice".to_owned(),
            text: "Half-written thought".to_owned(),
        })
        .expect("serialized");
        assert_eq!(
            Draft::text_for(&raw, "alice").as_deref(),
            Some("Half-written thought")
        );
        assert_eq!(Draft::text_for(&raw, "bob"), None);
        assert_eq!(Draft::text_for("not json", "alice"), None);
    }
}
