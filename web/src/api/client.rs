//! The quotes API's client, generated from `openapi.yaml` when the app is
//! built (`web/build.rs`): the document's types (timestamps as the RFC
//! 3339 strings the API sends) and a method on [`Client`] for each
//! operation the app uses. This module holds what those methods call: the
//! request through [`crate::http`] with the caller's token, and the
//! reading of an answer as its success type or as a [`Problem`].
//!
//! Failures that never got a readable answer are described as problems
//! too, with a `type` of this module and `status` 0, so callers have one
//! shape to handle.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::http::{self, Answer};

include!(concat!(env!("OUT_DIR"), "/quotes_api.rs"));

/// `type` of a problem when no complete answer arrived (network, CORS,
/// timeout, a body cut short).
pub const NO_RESPONSE: &str = "urn:quotes:client:no-response";
/// `type` of a problem when an answer arrived that the client cannot read.
pub const UNREADABLE_RESPONSE: &str = "urn:quotes:client:unreadable-response";
/// `type` of a problem when the request could not be made at all.
pub const REQUEST_NOT_SENT: &str = "urn:quotes:client:request-not-sent";

/// The API at `base`, called with one bearer token.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    authorization: String,
}

impl Client {
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            authorization: format!("Bearer {token}"),
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<http::Body>,
    ) -> Result<Reply, Problem> {
        let url = format!("{}{path}", self.base);
        let headers = [
            ("authorization", self.authorization.as_str()),
            ("accept", "application/json, application/problem+json"),
        ];
        match http::send(method, &url, &headers, body).await {
            Ok(answer) => Ok(Reply(answer)),
            Err(cause) => Err(client_problem(
                NO_RESPONSE,
                "No answer",
                format!("The quotes API could not be reached; try again later ({cause})."),
            )),
        }
    }
}

/// An answer, as the generated methods read it.
struct Reply(Answer);

impl Reply {
    fn status(&self) -> u16 {
        self.0.status().0
    }

    fn json<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        self.0.json().map_err(|cause| {
            client_problem(
                UNREADABLE_RESPONSE,
                "Unreadable answer",
                format!("The quotes API sent an answer this app cannot read ({cause})."),
            )
        })
    }

    /// The API's problem, or a plain one for the status when the body is
    /// not a problem (a proxy's error page, say).
    fn problem(&self) -> Problem {
        let status = self.0.status();
        self.0.json().unwrap_or_else(|_| Problem {
            type_: "about:blank".to_owned(),
            title: status.reason().unwrap_or("Error").to_owned(),
            status: i32::from(status.0),
            detail: format!("The quotes API answered {status} without saying why."),
            missing_scopes: None,
        })
    }
}

/// A request body, as the generated methods send it.
struct Body;

impl Body {
    fn json<T: Serialize>(value: &T) -> Result<http::Body, Problem> {
        crate::json::to_string(value)
            .map(http::Body::Json)
            .map_err(|cause| {
                client_problem(
                    REQUEST_NOT_SENT,
                    "Request not sent",
                    format!("The request could not be made ({cause})."),
                )
            })
    }
}

/// A path parameter, percent-encoded as one segment.
#[allow(dead_code, reason = "used only by operations with path parameters")]
fn encode_path_segment(value: &str) -> String {
    String::from(js_sys::encode_uri_component(value))
}

fn client_problem(type_: &str, title: &str, detail: String) -> Problem {
    Problem {
        type_: type_.to_owned(),
        title: title.to_owned(),
        status: 0,
        detail,
        missing_scopes: None,
    }
}
