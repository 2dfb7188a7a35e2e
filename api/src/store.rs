//! The data layer: every query the API makes, in one place.
//!
//! Quotes live in `user_messages`, the table of the original tutorial app.
//! Its timestamps are `timestamp` (without time zone) holding UTC; every
//! write computes them in SQL as UTC so the session time zone never matters.
//!
//! Every statement is prepared once per connection (diesel's statement
//! cache), so a request costs the database one round trip.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Text, Timestamp};
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

/// Creates or replaces a user's quote in one statement, returning the
/// stored row and whether it was inserted.
///
/// Written out rather than built with diesel's upsert DSL, which marks every
/// `ON CONFLICT DO UPDATE` as not cacheable (its changesets may differ from
/// call to call); this one never does, so it gets a fixed identity and is
/// prepared once per connection instead of on every save.
///
/// `xmax = 0` holds only for a freshly inserted row version, which tells a
/// creation from a replacement without a second query or a race.
#[derive(Debug, Clone, Copy)]
struct Upsert<'a> {
    user_id: &'a str,
    message: &'a str,
}

impl QueryId for Upsert<'_> {
    type QueryId = Upsert<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for Upsert<'_> {
    type SqlType = (Text, Timestamp, Timestamp, Bool);
}

impl QueryFragment<Pg> for Upsert<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("INSERT INTO user_messages (user_id, message, create_ts, update_ts) VALUES (");
        out.push_bind_param::<Text, _>(&self.user_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.message)?;
        out.push_sql(
            ", timezone('UTC', now()), timezone('UTC', now())) \
             ON CONFLICT (user_id) DO UPDATE \
             SET message = excluded.message, update_ts = timezone('UTC', now()) \
             RETURNING message, create_ts, update_ts, xmax = 0",
        );
        Ok(())
    }
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
pub async fn save_quote(
    conn: &mut AsyncPgConnection,
    user_id: &str,
    quote: &QuoteText,
) -> QueryResult<(StoredQuote, Saved)> {
    let upsert = Upsert {
        user_id,
        message: quote.as_str(),
    };
    let (text, created, updated, inserted) = upsert
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

#[cfg(test)]
mod tests {
    use diesel::pg::Pg;
    use diesel::query_builder::{QueryFragment, QueryId};

    use super::*;

    /// Diesel prepares a statement once per connection only when it is safe
    /// to cache and has a fixed identity; otherwise every request pays for
    /// a parse, a plan and an extra round trip.
    fn assert_prepared_once<Q: QueryFragment<Pg> + QueryId>(query: &Q, what: &str) {
        assert!(Q::HAS_STATIC_QUERY_ID, "{what}: no fixed identity");
        assert!(
            query.is_safe_to_cache_prepared(&Pg).unwrap(),
            "{what}: not cacheable"
        );
    }

    #[test]
    fn every_statement_is_prepared_once_per_connection() {
        assert_prepared_once(
            &user_messages::table.find("u").select(columns()).limit(1),
            "find_quote",
        );
        assert_prepared_once(
            &Upsert {
                user_id: "u",
                message: "m",
            },
            "save_quote",
        );
        assert_prepared_once(
            &diesel::delete(user_messages::table.find("u")),
            "delete_quote",
        );
    }
}
