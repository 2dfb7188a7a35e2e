//! The data layer: every query the API makes, in one place.
//!
//! Quotes live in `user_messages`, the table of the original tutorial app.
//! Its timestamps are `timestamp` (without time zone) holding UTC; every
//! write computes them in SQL as UTC so the session time zone never matters.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Timestamp};
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::quotes::QuoteText;
use crate::schema::user_messages;

/// A user's stored quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredQuote {
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whether a save created the quote or replaced an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Created,
    Replaced,
}

type Row = (String, NaiveDateTime, NaiveDateTime);

fn columns() -> (
    user_messages::message,
    user_messages::create_ts,
    user_messages::update_ts,
) {
    (
        user_messages::message,
        user_messages::create_ts,
        user_messages::update_ts,
    )
}

fn utc_now() -> diesel::expression::SqlLiteral<Timestamp> {
    sql::<Timestamp>("timezone('UTC', now())")
}

impl From<Row> for StoredQuote {
    fn from((text, created, updated): Row) -> Self {
        Self {
            text,
            created_at: created.and_utc(),
            updated_at: updated.and_utc(),
        }
    }
}

/// The caller's quote, if they have one.
pub async fn find_quote(
    conn: &mut AsyncPgConnection,
    user_id: &str,
) -> QueryResult<Option<StoredQuote>> {
    user_messages::table
        .find(user_id)
        .select(columns())
        .first::<Row>(conn)
        .await
        .optional()
        .map(|row| row.map(StoredQuote::from))
}

/// Creates or replaces the caller's quote in one atomic statement.
///
/// `xmax = 0` holds only for a freshly inserted row version, which tells a
/// creation from a replacement without a second query or a race.
pub async fn save_quote(
    conn: &mut AsyncPgConnection,
    user_id: &str,
    quote: &QuoteText,
) -> QueryResult<(StoredQuote, Saved)> {
    let (text, created, updated, inserted) = diesel::insert_into(user_messages::table)
        .values((
            user_messages::user_id.eq(user_id),
            user_messages::message.eq(quote.as_str()),
            user_messages::create_ts.eq(utc_now()),
            user_messages::update_ts.eq(utc_now()),
        ))
        .on_conflict(user_messages::user_id)
        .do_update()
        .set((
            user_messages::message.eq(excluded(user_messages::message)),
            user_messages::update_ts.eq(utc_now()),
        ))
        .returning((
            user_messages::message,
            user_messages::create_ts,
            user_messages::update_ts,
            sql::<Bool>("xmax = 0"),
        ))
        .get_result::<(String, NaiveDateTime, NaiveDateTime, bool)>(conn)
        .await?;
    let saved = if inserted {
        Saved::Created
    } else {
        Saved::Replaced
    };
    Ok((StoredQuote::from((text, created, updated)), saved))
}

/// Deletes the caller's quote; `false` when there was none.
pub async fn delete_quote(conn: &mut AsyncPgConnection, user_id: &str) -> QueryResult<bool> {
    let deleted = diesel::delete(user_messages::table.find(user_id))
        .execute(conn)
        .await?;
    Ok(deleted > 0)
}

/// Erases everything stored for `user_id` (the user is gone from the
/// identity provider); returns how many rows went. Deleting a user who has
/// nothing stored is not an error, so a repeated request is harmless.
///
/// Every table keyed by a user id belongs here.
pub async fn delete_user(conn: &mut AsyncPgConnection, user_id: &str) -> QueryResult<usize> {
    diesel::delete(user_messages::table.filter(user_messages::user_id.eq(user_id)))
        .execute(conn)
        .await
}
