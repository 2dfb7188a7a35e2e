//! The quotes single-page app (Yew, WebAssembly): sign in with the
//! configured provider, then keep one favourite quote through the API.
//!
//! - [`config`]: `config.json`, read at start.
//! - [`auth`]: the provider's sign-in, and the `use_auth()` context.
//! - [`api`]: the API's client, generated from `openapi.yaml`, with the
//!   caller's token, and the one place where a failure becomes a message.
//! - [`http`]: the browser's `fetch`, the app's only way to the network;
//!   [`json`]: the browser's `JSON`; [`location`]: the page's address.
//! - [`hooks`]: a screen's requests and state ([`hooks::use_quote`]).
//! - [`pages`], [`components`]: what is on screen.
//! - [`storage`]: what the app keeps in `sessionStorage` (never a token).

pub mod api;
pub mod app;
pub mod auth;
pub mod components;
pub mod config;
pub mod hooks;
pub mod http;
pub mod json;
pub mod location;
pub mod pages;
pub mod storage;

use wasm_bindgen::prelude::wasm_bindgen;

/// Starts the app in `<body>`. A panic is written to the console first,
/// so that none goes unseen (the end-to-end check fails on any).
#[wasm_bindgen(start)]
pub fn start() {
    #[cfg(target_arch = "wasm32")]
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("quotes web app panicked: {info}").into());
    }));
    yew::Renderer::<app::App>::new().render();
}
