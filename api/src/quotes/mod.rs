//! `/me/quote`: the caller's favourite quote. Handlers parse, make one call
//! to the data layer and shape the response.

mod text;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, Serializer};

pub use self::text::{MAX_CHARS, QuoteError, QuoteText};
use crate::auth::Caller;
use crate::db::Database;
use crate::error::ApiError;
use crate::store::{self, Saved, StoredQuote};

/// Body of `PUT /me/quote`.
#[derive(Debug, Deserialize)]
pub struct SaveQuote {
    /// The quote; surrounding whitespace is trimmed.
    pub quote: String,
}

impl SaveQuote {
    /// Reads the body strictly as a JSON object with a string `quote`
    /// (serde would also take `["text"]` for a one-field struct). Other
    /// fields are ignored, so a client may send back a `Quote` it received.
    fn from_json(body: &serde_json::Value) -> Result<QuoteText, QuoteError> {
        let quote = body
            .as_object()
            .and_then(|object| object.get("quote"))
            .ok_or_else(|| QuoteError::Shape("no \"quote\" field".to_owned()))?
            .as_str()
            .ok_or_else(|| QuoteError::Shape("\"quote\" is not a string".to_owned()))?;
        QuoteText::parse(quote)
    }
}

/// A stored quote, as clients see it.
#[derive(Debug, Serialize)]
pub struct Quote {
    pub quote: String,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
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

/// `GET /me/quote`
pub async fn get_quote(caller: Caller, db: web::Data<Database>) -> Result<HttpResponse, ApiError> {
    let mut conn = db.conn().await?;
    let stored = store::find_quote(&mut conn, caller.user_id())
        .await?
        .ok_or(ApiError::QuoteNotFound)?;
    Ok(HttpResponse::Ok().json(Quote::from(stored)))
}

/// `PUT /me/quote`
pub async fn put_quote(
    caller: Caller,
    db: web::Data<Database>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let quote = SaveQuote::from_json(&body)?;
    let mut conn = db.conn().await?;
    let (stored, saved) = store::save_quote(&mut conn, caller.user_id(), &quote).await?;
    let status = match saved {
        Saved::Created => StatusCode::CREATED,
        Saved::Replaced => StatusCode::OK,
    };
    Ok(HttpResponse::build(status).json(Quote::from(stored)))
}

/// `DELETE /me/quote`
pub async fn delete_quote(
    caller: Caller,
    db: web::Data<Database>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = db.conn().await?;
    if store::delete_quote(&mut conn, caller.user_id()).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::QuoteNotFound)
    }
}
