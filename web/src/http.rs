//! HTTP through the browser's `fetch`: the one way the app talks to the
//! network (the API's generated client, `config.json`, the provider's
//! discovery and token endpoints). The browser does the rest (TLS,
//! compression, CORS, HTTP/2), so an answer here is its status and its
//! text.

use std::fmt;

use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, RequestInit, Response, UrlSearchParams};

/// How long a request may take, answer included, before it counts as
/// unanswered: a person waiting on "Saving…" learns it failed instead of
/// waiting for ever.
const TIMEOUT_MS: u32 = 30_000;

/// What a request carries.
#[derive(Debug)]
pub enum Body {
    /// `application/json`.
    Json(String),
    /// `application/x-www-form-urlencoded` (the token endpoint's).
    Form(Vec<(&'static str, String)>),
}

/// A complete answer: its status and its text.
#[derive(Debug)]
pub struct Answer {
    status: Status,
    text: String,
}

impl Answer {
    pub fn status(&self) -> Status {
        self.status
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text as JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, String> {
        crate::json::from_str(&self.text)
    }
}

/// An HTTP status; shown as `404 Not Found`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u16);

impl Status {
    pub fn is_success(self) -> bool {
        (200..300).contains(&self.0)
    }

    pub fn is_client_error(self) -> bool {
        (400..500).contains(&self.0)
    }

    /// The standard reason phrase (RFC 9110), or `None` for a code it
    /// does not name. `fetch` gives none over HTTP/2.
    pub fn reason(self) -> Option<&'static str> {
        Some(match self.0 {
            200 => "OK",
            201 => "Created",
            204 => "No Content",
            301 => "Moved Permanently",
            302 => "Found",
            304 => "Not Modified",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            409 => "Conflict",
            413 => "Content Too Large",
            415 => "Unsupported Media Type",
            422 => "Unprocessable Content",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            _ => return None,
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            Some(reason) => write!(f, "{} {reason}", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// `GET url`.
pub async fn get(url: &str) -> Result<Answer, String> {
    send("GET", url, &[], None).await
}

/// `POST url` with a form.
pub async fn post_form(url: &str, form: Vec<(&'static str, String)>) -> Result<Answer, String> {
    send("POST", url, &[], Some(Body::Form(form))).await
}

/// Sends a request and reads its whole answer. `Err` is why no complete
/// answer came (network, CORS, timeout), in the browser's words: for the
/// console, not for people.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Body>,
) -> Result<Answer, String> {
    let init = RequestInit::new();
    init.set_method(method);
    init.set_signal(Some(&AbortSignal::timeout_with_u32(TIMEOUT_MS)));
    let request_headers = web_sys::Headers::new().map_err(js_error)?;
    for (name, value) in headers {
        request_headers.set(name, value).map_err(js_error)?;
    }
    match body {
        None => {}
        Some(Body::Json(json)) => {
            request_headers
                .set("content-type", "application/json")
                .map_err(js_error)?;
            init.set_body(&JsValue::from(json));
        }
        Some(Body::Form(fields)) => {
            // The browser sets the form's content type.
            let form = UrlSearchParams::new().map_err(js_error)?;
            for (name, value) in &fields {
                form.append(name, value);
            }
            init.set_body(&form);
        }
    }
    init.set_headers(&request_headers);
    let window = web_sys::window().ok_or("no window to fetch from")?;
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(js_error)?
        .dyn_into()
        .map_err(js_error)?;
    let status = Status(response.status());
    let text = JsFuture::from(response.text().map_err(js_error)?)
        .await
        .map_err(js_error)?
        .as_string()
        .unwrap_or_default();
    Ok(Answer { status, text })
}

/// A JavaScript exception (`TypeError: Failed to fetch`, `TimeoutError`)
/// as text.
fn js_error(error: JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| format!("{}: {}", String::from(e.name()), String::from(e.message())))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"))
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn a_status_reads_with_its_reason_when_it_has_one() {
        assert_eq!(Status(500).to_string(), "500 Internal Server Error");
        assert_eq!(Status(404).to_string(), "404 Not Found");
        assert_eq!(Status(599).to_string(), "599");
        assert!(Status(204).is_success());
        assert!(!Status(304).is_success());
        assert!(Status(400).is_client_error() && !Status(500).is_client_error());
    }
}
