//! The one place that turns a failed call into a [`Problem`] a person can
//! read.
//!
//! The API answers every error with an `application/problem+json` body,
//! which progenitor hands back unread (as a [`ByteStream`] or an
//! unexpected response). [`problem`] reads it; failures that never got a
//! readable answer (no network, a body that is not a problem) are described
//! as problems too, with a `type` of this module and `status` 0, so callers
//! have one shape to show: its `detail`.

use std::future::Future;

use futures_util::StreamExt;
use reqwest::StatusCode;

use crate::types::Problem;
use crate::{ByteStream, Error};

/// `type` of a problem when no complete answer arrived (network, CORS,
/// timeout, a body cut short).
pub const NO_RESPONSE: &str = "urn:quotes:client:no-response";
/// `type` of a problem when an answer arrived that the client cannot read.
pub const UNREADABLE_RESPONSE: &str = "urn:quotes:client:unreadable-response";
/// `type` of a problem when the request could not be made at all.
pub const REQUEST_NOT_SENT: &str = "urn:quotes:client:request-not-sent";

/// Describes a failed call as a [`Problem`]: the API's own when it sent
/// one, otherwise one written here.
pub async fn problem<E: ErrorBody>(error: Error<E>) -> Problem {
    match error {
        Error::ErrorResponse(response) => {
            let status = response.status();
            from_body(status, &response.into_inner().read().await)
        }
        Error::UnexpectedResponse(response) => {
            let status = response.status();
            let body = response.bytes().await.unwrap_or_default();
            from_body(status, &body)
        }
        Error::InvalidResponsePayload(_, cause) => client_problem(
            UNREADABLE_RESPONSE,
            "Unreadable answer",
            format!("The quotes API sent an answer this app cannot read ({cause})."),
        ),
        Error::CommunicationError(cause)
        | Error::ResponseBodyError(cause)
        | Error::InvalidUpgrade(cause) => client_problem(
            NO_RESPONSE,
            "No answer",
            format!("The quotes API could not be reached; try again later ({cause})."),
        ),
        Error::InvalidRequest(cause) | Error::Custom(cause) => client_problem(
            REQUEST_NOT_SENT,
            "Request not sent",
            format!("The request could not be made ({cause})."),
        ),
    }
}

/// The API's problem in `body`, or a plain one for `status` when the body
/// is not a problem (a proxy's error page, say).
fn from_body(status: StatusCode, body: &[u8]) -> Problem {
    serde_json::from_slice(body).unwrap_or_else(|_| Problem {
        type_: "about:blank".to_owned(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: i32::from(status.as_u16()),
        detail: format!("The quotes API answered {status} without saying why."),
        missing_scopes: None,
    })
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

/// The body of an error response, as the generated methods return it.
pub trait ErrorBody {
    /// Reads the whole body; what could not be read is left out.
    fn read(self) -> impl Future<Output = Vec<u8>>;
}

impl ErrorBody for ByteStream {
    async fn read(self) -> Vec<u8> {
        let mut stream = self.into_inner();
        let mut body = Vec::new();
        while let Some(Ok(chunk)) = stream.next().await {
            body.extend_from_slice(&chunk);
        }
        body
    }
}

/// Operations whose errors are not documented carry no body.
impl ErrorBody for () {
    async fn read(self) -> Vec<u8> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use progenitor_client::ResponseValue;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    use super::{ByteStream, Error, REQUEST_NOT_SENT, problem};

    fn error_response(status: StatusCode, body: &'static str) -> Error<ByteStream> {
        let chunks = futures_util::stream::iter([Ok(bytes_of(body))]);
        Error::ErrorResponse(ResponseValue::new(
            ByteStream::new(Box::pin(chunks)),
            status,
            HeaderMap::new(),
        ))
    }

    fn bytes_of(text: &'static str) -> bytes::Bytes {
        bytes::Bytes::from_static(text.as_bytes())
    }

    #[tokio::test]
    async fn the_api_problem_is_kept() {
        let body = r#"{"type":"urn:quotes:problem:quote-not-found","title":"Not found","status":404,"detail":"No quote yet."}"#;
        let problem = problem(error_response(StatusCode::NOT_FOUND, body)).await;
        assert_eq!(problem.type_, "urn:quotes:problem:quote-not-found");
        assert_eq!(problem.status, 404);
        assert_eq!(problem.detail, "No quote yet.");
    }

    #[tokio::test]
    async fn a_body_that_is_no_problem_becomes_a_plain_one() {
        let problem = problem(error_response(StatusCode::BAD_GATEWAY, "<html>")).await;
        assert_eq!(problem.type_, "about:blank");
        assert_eq!(problem.title, "Bad Gateway");
        assert_eq!(problem.status, 502);
        assert!(problem.detail.contains("502"), "{}", problem.detail);
    }

    #[tokio::test]
    async fn failures_without_an_answer_are_problems_too() {
        let problem = problem(Error::<()>::InvalidRequest("bad header".to_owned())).await;
        assert_eq!(problem.type_, REQUEST_NOT_SENT);
        assert_eq!(problem.status, 0);
        assert!(problem.detail.contains("bad header"), "{}", problem.detail);
    }
}
