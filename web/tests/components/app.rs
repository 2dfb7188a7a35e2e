//! The whole app from `config.json` on: a broken or missing file gives the
//! error page; a good one the sign-in page.

use quotes_web::app::App;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::support::{FakeFetch, mount};

/// `GET` of `config.json` next to the test page, as the app asks for it.
fn config_route() -> String {
    let path = web_sys::window()
        .and_then(|window| window.location().pathname().ok())
        .unwrap_or_default();
    let folder = path.rfind('/').map_or("/", |i| &path[..=i]);
    format!("GET {folder}config.json")
}

#[wasm_bindgen_test]
async fn a_broken_config_says_what_is_wrong() {
    let route = config_route();
    let _fetch = FakeFetch::new(&[(
        &route,
        200,
        "application/json",
        r#"{"api_base": "/api", "provider": {"kind": "clerk", "publishable_key": "pk_test"}}"#,
    )]);
    let page = mount::<App>(()).await;
    page.until("the error page", |page| page.find("[role=alert]").is_some())
        .await;
    assert_eq!(page.text("h1"), "The app cannot start");
    let alert = page.text("[role=alert]");
    assert!(alert.contains("config.json is not valid"), "{alert}");
    assert!(alert.contains("api_base must be an http(s) URL"), "{alert}");
}

#[wasm_bindgen_test]
async fn a_missing_config_names_the_file() {
    let _fetch = FakeFetch::new(&[(&config_route(), 404, "text/plain", "not found")]);
    let page = mount::<App>(()).await;
    page.until("the error page", |page| page.find("[role=alert]").is_some())
        .await;
    let alert = page.text("[role=alert]");
    assert!(alert.contains("config.json answered 404"), "{alert}");
}

#[wasm_bindgen_test]
async fn a_good_config_leads_to_the_sign_in_page() {
    let _fetch = FakeFetch::new(&[(
        &config_route(),
        200,
        "application/json",
        r#"{"api_base": "https://api.example.test", "provider": {"kind": "oidc",
            "issuer": "https://id.example.test", "client_id": "quotes-web",
            "scopes": "openid profile"}}"#,
    )]);
    let page = mount::<App>(()).await;
    page.until("the sign-in page", |page| page.find("button").is_some())
        .await;
    assert_eq!(page.text(".brand"), "quotes");
    assert_eq!(page.text("h1"), "Keep your favourite quote");
    page.button("Sign in");
}
