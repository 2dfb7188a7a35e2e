//! Component tests: the app's components rendered into a real document
//! (headless Chromium, through `wasm-bindgen-test-runner` and
//! chromedriver), checked through the DOM the way a person would see them.
//! `cargo xtask test` runs them; they only build for wasm32.

#![cfg(target_arch = "wasm32")]

mod app;
mod editor;
mod pkce;
mod quote_page;
mod signed_out;
mod support;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
