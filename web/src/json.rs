//! JSON in and out. In the browser the text is read and written by the
//! browser's own `JSON`, and serde-wasm-bindgen moves the values across, so
//! the bundle carries no JSON parser of its own (15 KB of gzip). The host,
//! where the unit tests run, has no browser: there it is `serde_json`.

use serde::Serialize;
use serde::de::DeserializeOwned;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen::JsCast;

/// `text` as a `T`; `Err` says why not.
#[cfg(target_arch = "wasm32")]
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let value = js_sys::JSON::parse(text).map_err(|e| {
        e.dyn_ref::<js_sys::Error>()
            .map_or_else(|| "not JSON".to_owned(), |e| String::from(e.message()))
    })?;
    serde_wasm_bindgen::from_value(value).map_err(|e| e.to_string())
}

/// `value` as JSON text.
#[cfg(target_arch = "wasm32")]
pub fn to_string<T: Serialize>(value: &T) -> Result<String, String> {
    let value = value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| e.to_string())?;
    js_sys::JSON::stringify(&value)
        .map(String::from)
        .map_err(|_| "cannot be written as JSON".to_owned())
}

/// `text` as a `T`; `Err` says why not.
#[cfg(not(target_arch = "wasm32"))]
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// `value` as JSON text.
#[cfg(not(target_arch = "wasm32"))]
pub fn to_string<T: Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| e.to_string())
}
