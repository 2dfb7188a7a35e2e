//! What the app keeps in the tab's `sessionStorage`, all in one table:
//!
//! | key | what | from | until |
//! | --- | --- | --- | --- |
//! | `quotes.oidc.pending` | state, nonce and PKCE verifier of a sign-in | leaving for the provider | coming back (single use) |
//! | `quotes.signed_in` | `"1"`: this tab is signed in (OpenID Connect) | a completed sign-in | sign-out, a refused token, a failed restore |
//!
//! Never a token: access, ID and refresh tokens stay in memory
//! ([`crate::auth`]), where another script on the page cannot read them
//! back from storage and nothing outlives the tab. `sessionStorage` is the
//! tab's own: it survives reloads and the trip to the provider and back,
//! and is gone when the tab closes.

/// `sessionStorage` key of a sign-in in progress.
pub const PENDING_SIGN_IN: &str = "quotes.oidc.pending";
/// `sessionStorage` key of the signed-in marker.
pub const SIGNED_IN: &str = "quotes.signed_in";

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
