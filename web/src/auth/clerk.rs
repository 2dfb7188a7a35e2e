//! Clerk: its browser library (clerk-js), loaded from the instance's
//! Frontend API, which the publishable key names. Clerk's own components
//! sign people in (`mountSignIn`) and show who they are
//! (`mountUserButton`); a session token is asked for before each API call
//! (`session.getToken()`, which clerk-js caches and renews), and past its
//! cache (`getToken({ skipCache: true })`) when the API refused one as
//! expired. clerk-js keeps its own session (its cookies), so a reload stays
//! signed in without the app storing anything.

use base64ct::{Base64, Encoding};
use js_sys::{Function, Promise, Reflect};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// What the app needs from Clerk: `config.json`'s provider when its `kind`
/// is `clerk`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClerkSettings {
    /// The instance's publishable key; it names the Frontend API.
    pub publishable_key: String,
}

/// The clerk-js major version the app is written against.
const CLERK_JS_VERSION: &str = "5";

#[wasm_bindgen]
extern "C" {
    /// `window.Clerk`.
    #[derive(Debug, Clone, PartialEq)]
    pub type ClerkJs;

    #[wasm_bindgen(method, catch)]
    async fn load(this: &ClerkJs) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(method, getter)]
    fn user(this: &ClerkJs) -> JsValue;

    #[wasm_bindgen(method, getter)]
    fn session(this: &ClerkJs) -> JsValue;

    #[wasm_bindgen(method, js_name = addListener)]
    fn add_listener(this: &ClerkJs, listener: &Function);

    #[wasm_bindgen(method, js_name = mountSignIn)]
    fn mount_sign_in(this: &ClerkJs, node: &web_sys::Element);

    #[wasm_bindgen(method, js_name = mountUserButton)]
    fn mount_user_button(this: &ClerkJs, node: &web_sys::Element);

    #[wasm_bindgen(method, catch, js_name = signOut)]
    async fn sign_out(this: &ClerkJs) -> Result<JsValue, JsValue>;
}

/// The Frontend API host a publishable key names: `pk_test_`/`pk_live_`,
/// then base64 of the host followed by `$`.
pub fn frontend_api(publishable_key: &str) -> Result<String, String> {
    let encoded = publishable_key
        .strip_prefix("pk_test_")
        .or_else(|| publishable_key.strip_prefix("pk_live_"))
        .ok_or("The Clerk publishable key must start with pk_test_ or pk_live_.")?;
    let decoded = Base64::decode_vec(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or("The Clerk publishable key is malformed.")?;
    let host = decoded
        .strip_suffix('$')
        .filter(|host| !host.is_empty() && !host.contains(['/', ' ']))
        .ok_or("The Clerk publishable key is malformed.")?;
    Ok(host.to_owned())
}

/// Loads clerk-js from the Frontend API and waits for `Clerk.load()`.
pub async fn start(settings: &ClerkSettings) -> Result<ClerkJs, String> {
    let publishable_key = settings.publishable_key.as_str();
    let host = frontend_api(publishable_key)?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let script: web_sys::HtmlScriptElement = document
        .create_element("script")
        .map_err(|_| "cannot create a script element")?
        .unchecked_into();
    script.set_src(&format!(
        "https://{host}/npm/@clerk/clerk-js@{CLERK_JS_VERSION}/dist/clerk.browser.js"
    ));
    script.set_cross_origin(Some("anonymous"));
    let _ = script.set_attribute("data-clerk-publishable-key", publishable_key);
    let loaded = Promise::new(&mut |resolve, reject| {
        script.set_onload(Some(&resolve));
        script.set_onerror(Some(&reject));
    });
    document
        .head()
        .ok_or("no head")?
        .append_child(&script)
        .map_err(|_| "cannot add the Clerk script")?;
    JsFuture::from(loaded)
        .await
        .map_err(|_| format!("Clerk could not be loaded from {host}."))?;
    let clerk = web_sys::window()
        .and_then(|w| Reflect::get(&w, &"Clerk".into()).ok())
        .filter(JsValue::is_object)
        .ok_or("Clerk's script did not set window.Clerk.")?
        .unchecked_into::<ClerkJs>();
    clerk
        .load()
        .await
        .map_err(|_| "Clerk could not start.".to_owned())?;
    Ok(clerk)
}

impl ClerkJs {
    /// Who is signed in: a name to show, or `None`.
    pub fn signed_in_name(&self) -> Option<String> {
        let user = self.user();
        if !user.is_object() {
            return None;
        }
        ["fullName", "username", "id"]
            .iter()
            .filter_map(|key| Reflect::get(&user, &(*key).into()).ok())
            .find_map(|value| value.as_string().filter(|s| !s.is_empty()))
    }

    /// Clerk's id of the signed-in user.
    pub fn user_id(&self) -> Option<String> {
        Reflect::get(&self.user(), &"id".into())
            .ok()
            .and_then(|id| id.as_string())
    }

    /// Calls `listener` whenever the user or session changes.
    pub fn on_change(&self, listener: Box<dyn FnMut(JsValue)>) {
        let closure = Closure::wrap(listener);
        self.add_listener(closure.as_ref().unchecked_ref());
        // Clerk keeps the listener for the page's lifetime; so does the app.
        closure.forget();
    }

    /// A session token for the API: clerk-js's cached one while it is
    /// fresh, or with `skip_cache` a new one from Clerk.
    pub async fn token(&self, skip_cache: bool) -> Result<String, String> {
        let session = self.session();
        let get_token = Reflect::get(&session, &"getToken".into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .ok_or("Your Clerk session has ended.")?;
        let promise = if skip_cache {
            let options = js_sys::Object::new();
            Reflect::set(&options, &"skipCache".into(), &JsValue::TRUE)
                .map_err(|_| "Clerk could not give a token.")?;
            get_token.call1(&session, &options)
        } else {
            get_token.call0(&session)
        }
        .map_err(|_| "Clerk could not give a token.")?;
        JsFuture::from(Promise::resolve(&promise))
            .await
            .ok()
            .and_then(|token| token.as_string())
            .ok_or_else(|| "Your Clerk session has ended.".to_owned())
    }

    /// Mounts Clerk's sign-in component into `node`.
    pub fn mount_sign_in_into(&self, node: &web_sys::Element) {
        self.mount_sign_in(node);
    }

    /// Mounts Clerk's user button into `node`.
    pub fn mount_user_button_into(&self, node: &web_sys::Element) {
        self.mount_user_button(node);
    }

    /// Ends the Clerk session.
    pub async fn end_session(&self) {
        let _ = self.sign_out().await;
    }
}

#[cfg(test)]
mod tests {
    use super::frontend_api;

    #[test]
    fn the_frontend_api_comes_from_the_key() {
        // base64("clerk.example.com$")
        assert_eq!(
            frontend_api("pk_test_Y2xlcmsuZXhhbXBsZS5jb20k").as_deref(),
            Ok("clerk.example.com")
        );
        assert!(frontend_api("sk_test_Y2xlcmsuZXhhbXBsZS5jb20k").is_err());
        assert!(frontend_api("pk_live_!!!").is_err());
    }
}
