//! The quotes API through its generated client ([`client`]), with the
//! caller's token on every request ([`with_token`], which also replaces a
//! token the API refused as expired, once); [`message`]: the one place
//! where a failed call becomes what the person reads; and the API's length
//! rule for a quote ([`MAX_QUOTE_CHARS`], [`counted_chars`]), which the
//! editor shows before the API enforces it.

pub mod client;

use std::future::Future;

use client::{NO_RESPONSE, REQUEST_NOT_SENT, SaveQuote, UNREADABLE_RESPONSE};
pub use client::{Problem, Quote};

use crate::auth::TokenSource;

/// The problem `type` of a token the API refused only because it expired:
/// a renewed token may succeed where it failed.
pub const EXPIRED_TOKEN: &str = "urn:quotes:problem:expired-token";

/// Most characters a quote may have, as [`counted_chars`] counts them. The
/// API's rule; the only place the app states the number.
pub const MAX_QUOTE_CHARS: usize = 1000;

/// Characters as the API counts them: Unicode scalar values, after
/// trimming (so an emoji counts once, where JavaScript's `length` says 2).
pub fn counted_chars(text: &str) -> usize {
    text.trim().chars().count()
}

/// The API, as one signed-in person.
#[derive(Debug, Clone)]
pub struct Api {
    client: client::Client,
}

impl Api {
    /// A client for `base` that sends `token`.
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            client: client::Client::new(base, token),
        }
    }

    /// The caller's quote, or `None` when there is none yet.
    pub async fn quote(&self) -> Result<Option<Quote>, Problem> {
        match self.client.get_quote().await {
            Ok(quote) => Ok(Some(quote)),
            Err(problem) if problem.status == 404 => Ok(None),
            Err(problem) => Err(problem),
        }
    }

    /// Saves (creates or replaces) the caller's quote.
    pub async fn save(&self, text: &str) -> Result<Quote, Problem> {
        let body = SaveQuote {
            quote: text.to_owned(),
        };
        self.client.put_quote(&body).await
    }

    /// Deletes the caller's quote; one already gone counts as deleted.
    pub async fn delete(&self) -> Result<(), Problem> {
        match self.client.delete_quote().await {
            Err(problem) if problem.status == 404 => Ok(()),
            answer => answer,
        }
    }
}

/// Makes `call` with a client for `base` that carries a token from
/// `token_source`. When the API refuses that token as expired, gets a
/// fresh one and makes the call once more (every call here may be
/// repeated: the API refused the first before doing anything). A token
/// that cannot be had, and a second refusal, come back as a 401 problem:
/// sign in again.
pub async fn with_token<T, F>(
    base: &str,
    token_source: &TokenSource,
    call: impl Fn(Api) -> F,
) -> Result<T, Problem>
where
    F: Future<Output = Result<T, Problem>>,
{
    let token = token_source.token().await.map_err(no_token)?;
    match call(Api::new(base, &token)).await {
        Err(problem) if is_expired(&problem) => {
            let fresh = token_source.fresh_token(&token).await.map_err(no_token)?;
            call(Api::new(base, &fresh)).await
        }
        answer => answer,
    }
}

/// No token to send: as if the API had refused one.
fn no_token(detail: String) -> Problem {
    Problem {
        type_: "about:blank".to_owned(),
        title: "Unauthorized".to_owned(),
        status: 401,
        detail,
        missing_scopes: None,
    }
}

/// The API refused the token only because it has expired.
pub fn is_expired(problem: &Problem) -> bool {
    problem.status == 401 && problem.type_ == EXPIRED_TOKEN
}

/// The API refused the token (expired, revoked, from elsewhere).
pub fn is_unauthorized(problem: &Problem) -> bool {
    problem.status == 401
}

/// The API refused the text itself (invalid, or too large): the message
/// belongs to the text area, and changing the text answers it.
pub fn is_about_the_text(problem: &Problem) -> bool {
    matches!(problem.status, 413 | 422)
}

/// What a person reads about a failed call: the API's `detail` (written
/// for people), with a plain fallback when there is none. Failures with
/// no answer get a sentence of their own: the client's detail names the
/// HTTP library's error, which is for programmers.
pub fn message(problem: &Problem) -> String {
    if is_unauthorized(problem) {
        return "Your session has ended. Sign in again to continue.".to_owned();
    }
    match problem.type_.as_str() {
        NO_RESPONSE => {
            return "The quotes API could not be reached. Check your connection, then try again."
                .to_owned();
        }
        UNREADABLE_RESPONSE => {
            return "The quotes API sent an answer this app cannot read. Try again later."
                .to_owned();
        }
        REQUEST_NOT_SENT => {
            return "The request could not be made. Reload the page, then try again.".to_owned();
        }
        _ => {}
    }
    let detail = problem.detail.trim();
    if detail.is_empty() {
        format!("Something went wrong ({}).", problem.title)
    } else {
        detail.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::client::{NO_RESPONSE, Problem};
    use super::{EXPIRED_TOKEN, is_about_the_text, is_expired, is_unauthorized, message};

    fn problem(status: i32, detail: &str) -> Problem {
        Problem {
            type_: "urn:quotes:problem:invalid-quote".to_owned(),
            title: "Invalid quote".to_owned(),
            status,
            detail: detail.to_owned(),
            missing_scopes: None,
        }
    }

    fn refused(type_: &str) -> Problem {
        Problem {
            type_: type_.to_owned(),
            title: "Unauthorized".to_owned(),
            status: 401,
            detail: "The token was refused.".to_owned(),
            missing_scopes: None,
        }
    }

    #[test]
    fn only_an_expired_token_is_worth_a_retry() {
        assert!(is_expired(&refused(EXPIRED_TOKEN)));
        assert!(!is_expired(&refused("urn:quotes:problem:invalid-token")));
        assert!(!is_expired(&refused("about:blank")));
        assert!(
            !is_expired(&Problem {
                status: 400,
                ..refused(EXPIRED_TOKEN)
            }),
            "the type counts only with a 401"
        );
        // Every refusal, expired or not, is "sign in again" once retried.
        assert!(is_unauthorized(&refused(EXPIRED_TOKEN)));
        assert!(is_unauthorized(&refused(
            "urn:quotes:problem:invalid-token"
        )));
    }

    #[test]
    fn the_apis_detail_is_what_people_read() {
        assert_eq!(
            message(&problem(
                422,
                "The quote has 1001 characters; at most 1000 are allowed."
            )),
            "The quote has 1001 characters; at most 1000 are allowed."
        );
        assert_eq!(
            message(&problem(500, " ")),
            "Something went wrong (Invalid quote)."
        );
        assert!(message(&problem(401, "token expired")).contains("Sign in again"));
    }

    #[test]
    fn no_answer_reads_as_a_sentence_without_the_librarys_words() {
        let unreachable = Problem {
            type_: NO_RESPONSE.to_owned(),
            title: "No answer".to_owned(),
            status: 0,
            detail: "The quotes API could not be reached; try again later (error sending request)."
                .to_owned(),
            missing_scopes: None,
        };
        let text = message(&unreachable);
        assert!(text.contains("could not be reached"), "{text}");
        assert!(!text.contains("error sending request"), "{text}");
    }

    #[test]
    fn only_a_refused_text_belongs_to_the_text_area() {
        assert!(is_about_the_text(&problem(422, "Too long.")));
        assert!(is_about_the_text(&problem(413, "Too large.")));
        assert!(!is_about_the_text(&problem(503, "Busy.")));
        assert!(!is_about_the_text(&problem(0, "No answer.")));
    }
}
