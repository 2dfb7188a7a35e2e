//! The answers a connection ends with when no request reached the
//! application: written whole, in HTTP/1.1, with the headers every
//! response of the API carries (the security headers and a request id)
//! and a problem+json body, then the connection closes.

use std::fmt::Write as _;
use std::time::Duration;

use actix_web::http::StatusCode;
use bytes::Bytes;

use crate::http::error::{PROBLEM_JSON, Problem, ProblemType};
use crate::http::request_id::{REQUEST_ID, new_request_id};
use crate::http::security::{ALWAYS, API_POLICY};

/// A request whose head did not arrive within the header timeout.
pub fn header_timeout(limit: Duration) -> Bytes {
    answer(
        StatusCode::REQUEST_TIMEOUT,
        &Problem {
            kind: ProblemType::Blank.uri(),
            title: "Request Timeout",
            status: StatusCode::REQUEST_TIMEOUT.as_u16(),
            detail: format!(
                "The request's headers did not arrive within {} seconds.",
                limit.as_secs()
            ),
            missing_scopes: None,
        },
        None,
    )
}

/// A connection from an address that holds its share of connections.
pub fn too_many_connections(max: usize) -> Bytes {
    answer(
        StatusCode::TOO_MANY_REQUESTS,
        &Problem {
            kind: ProblemType::RateLimited.uri(),
            title: "Too Many Requests",
            status: StatusCode::TOO_MANY_REQUESTS.as_u16(),
            detail: format!(
                "This address has {max} connections open, as many as it may; \
                 reuse or close one and try again."
            ),
            missing_scopes: None,
        },
        Some(1),
    )
}

fn answer(status: StatusCode, problem: &Problem, retry_after: Option<u64>) -> Bytes {
    let body = serde_json::to_string(problem).unwrap_or_default();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {PROBLEM_JSON}\r\ncontent-length: {}\r\n\
         connection: close\r\ncontent-security-policy: {API_POLICY}\r\n{REQUEST_ID}: {}\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or_default(),
        body.len(),
        new_request_id(),
    );
    for (name, value) in ALWAYS {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    if let Some(seconds) = retry_after {
        let _ = write!(head, "retry-after: {seconds}\r\n");
    }
    head.push_str("\r\n");
    head.push_str(&body);
    Bytes::from(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_a_whole_response_with_the_usual_headers() {
        let answer = header_timeout(Duration::from_secs(5));
        let text = std::str::from_utf8(&answer).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{head}"
        );
        for line in [
            "content-type: application/problem+json",
            "connection: close",
            "x-content-type-options: nosniff",
            "referrer-policy: no-referrer",
            "x-frame-options: DENY",
            "content-security-policy: default-src 'none'; frame-ancestors 'none'",
        ] {
            assert!(head.lines().any(|l| l == line), "{line} in {head}");
        }
        assert!(head.lines().any(|l| l.starts_with("x-request-id: ")));
        assert!(
            head.lines()
                .any(|l| l == format!("content-length: {}", body.len()))
        );
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], 408);
        assert_eq!(
            problem["detail"],
            "The request's headers did not arrive within 5 seconds."
        );
        let refusal = too_many_connections(3);
        assert!(refusal.starts_with(b"HTTP/1.1 429 Too Many Requests\r\n"));
        assert!(
            std::str::from_utf8(&refusal)
                .unwrap()
                .contains("retry-after: 1\r\n")
        );
    }
}
