//! `/me/quote`: the caller's favourite quote. Handlers parse (typed
//! extractors), make one call to the data layer and answer with a type of
//! their own ([`QuoteFound`], [`QuoteSaved`], [`QuoteDeleted`]) that both
//! writes the response and describes it; the rules of a quote live in
//! `quotes_core::quotes`.

use actix_web::body::BoxBody;
use actix_web::{HttpRequest, HttpResponse, Responder, delete, get, put, web};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, Serializer};
use utoipa::{IntoResponses, ToSchema};

use super::caller::Caller;
use super::error::{ApiError, BearerProblems, JsonBodyProblems, Problem};
use super::json::Json;
use quotes_core::quotes::QuoteText;
use quotes_core::store::{QuoteStore, Saved, StoredQuote};

/// Body of `PUT /me/quote`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"quote": "Simplicity is prerequisite for reliability."}))]
pub struct SaveQuote {
    /// The quote. Surrounding whitespace is trimmed first; what remains
    /// must have 1 to 1000 characters (Unicode scalar values, so an emoji
    /// counts once), no control characters but newline and tab, and at
    /// least one visible character (not only spaces and invisible
    /// formatting such as U+200B or U+FEFF). The length is checked after
    /// trimming, so it is not a `maxLength` here; the pattern states the
    /// rest.
    // The pattern, read left to right: leading whitespace (what the server
    // trims: JavaScript's `\s` and U+0085), any allowed characters, one
    // visible character, any allowed characters, trailing whitespace. Every
    // quote the server accepts matches it. Control characters are written
    // as `\xNN` escapes, which no generator turns into raw bytes.
    #[schema(
        min_length = 1,
        pattern = r"^[\s\x85]*[^\x00-\x08\x0B-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F\xAD\u061C\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF][^\x00-\x08\x0B-\x1F\x7F-\x9F]*[\s\x85]*$"
    )]
    pub quote: String,
}

/// A stored quote.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "quote": "Simplicity is prerequisite for reliability.",
    "created_at": "2026-11-26T08:00:00.000000Z",
    "updated_at": "2026-11-26T08:00:00.000000Z"
}))]
pub struct Quote {
    /// The quote as stored: trimmed, 1 to 1000 characters (Unicode scalar
    /// values: an emoji counts once, where JavaScript's `length` says 2, so
    /// the limit is stated here rather than as a `maxLength`).
    #[schema(min_length = 1)]
    pub quote: String,
    /// When the caller first saved a quote (RFC 3339, UTC); kept on replacement.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// When the quote was last saved (RFC 3339, UTC).
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// RFC 3339 in UTC with a `Z`, always with microseconds, so that every
/// timestamp has the same shape.
fn rfc3339<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Micros, true))
}

impl From<StoredQuote> for Quote {
    fn from(stored: StoredQuote) -> Self {
        Self {
            quote: stored.text,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        }
    }
}

/// `GET /me/quote` found the caller's quote.
#[derive(Debug, IntoResponses)]
#[response(status = 200, description = "The caller's quote.")]
pub struct QuoteFound(pub Quote);

impl Responder for QuoteFound {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        HttpResponse::Ok().json(self.0)
    }
}

/// `PUT /me/quote` stored the quote: a replacement or a first save.
#[derive(Debug, IntoResponses)]
pub enum QuoteSaved {
    #[response(status = 200, description = "Replaced.")]
    Replaced(Quote),
    #[response(status = 201, description = "Created.")]
    Created(Quote),
}

impl Responder for QuoteSaved {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        match self {
            Self::Replaced(quote) => HttpResponse::Ok().json(quote),
            Self::Created(quote) => HttpResponse::Created().json(quote),
        }
    }
}

/// `DELETE /me/quote` deleted the caller's quote.
#[derive(Debug, IntoResponses)]
#[response(status = 204, description = "Deleted.")]
pub struct QuoteDeleted;

impl Responder for QuoteDeleted {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        HttpResponse::NoContent().finish()
    }
}

/// Get your quote
///
/// The signed-in caller's favourite quote.
#[utoipa::path(
    tag = "quotes",
    operation_id = "get_quote",
    security(("bearer" = [])),
    responses(
        QuoteFound,
        BearerProblems,
        (status = NOT_FOUND, description = "No quote saved yet.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/quote")]
pub async fn get_quote(
    caller: Caller,
    store: web::Data<QuoteStore>,
) -> Result<QuoteFound, ApiError> {
    let stored = store
        .find(caller.user_id())
        .await?
        .ok_or(ApiError::QuoteNotFound)?;
    Ok(QuoteFound(stored.into()))
}

/// Save your quote
///
/// Creates the caller's quote (`201`) or replaces it (`200`); either way the
/// stored quote comes back. `created_at` survives a replacement.
#[utoipa::path(
    tag = "quotes",
    operation_id = "put_quote",
    security(("bearer" = [])),
    request_body(content = SaveQuote, content_type = "application/json"),
    responses(
        QuoteSaved,
        BearerProblems,
        JsonBodyProblems,
        (status = UNPROCESSABLE_ENTITY, description = "The quote is empty, too long, has a control character, or the body is not `{\"quote\": string}`.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/me/quote")]
pub async fn put_quote(
    caller: Caller,
    store: web::Data<QuoteStore>,
    Json(body): Json<SaveQuote>,
) -> Result<QuoteSaved, ApiError> {
    let text = QuoteText::parse(&body.quote)?;
    let (stored, saved) = store.save(caller.user_id(), text).await?;
    Ok(match saved {
        Saved::Created => QuoteSaved::Created(stored.into()),
        Saved::Replaced => QuoteSaved::Replaced(stored.into()),
    })
}

/// Delete your quote
#[utoipa::path(
    tag = "quotes",
    operation_id = "delete_quote",
    security(("bearer" = [])),
    responses(
        QuoteDeleted,
        BearerProblems,
        (status = NOT_FOUND, description = "No quote to delete.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/me/quote")]
pub async fn delete_quote(
    caller: Caller,
    store: web::Data<QuoteStore>,
) -> Result<QuoteDeleted, ApiError> {
    if store.delete(caller.user_id()).await? {
        Ok(QuoteDeleted)
    } else {
        Err(ApiError::QuoteNotFound)
    }
}
