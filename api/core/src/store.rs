//! The data layer: every query the API makes, in one place.
//!
//! Quotes live in `user_messages`, the table of the original tutorial app.
//! Its timestamps are `timestamp` (without time zone) holding UTC; every
//! write computes them in SQL as UTC so the session time zone never matters.
//!
//! Every statement is prepared once per connection (diesel's statement
//! cache), so a request costs the database one round trip; behind a
//! transaction-mode pooler statements are prepared inside each request's
//! transaction instead (`db::PoolMode`). The functions take the connection
//! they are given and never open transactions themselves.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Text};
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

/// A quote to save: whose, and what.
#[derive(Debug, Clone, Copy)]
pub struct NewQuote<'a> {
    pub user_id: &'a str,
    pub text: &'a QuoteText,
}

/// Whether a save created the quote or replaced an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Created,
    Replaced,
}

/// A quote's row: the columns [`StoredQuote`] is made of, read by every
/// statement that returns a quote (the upsert's `RETURNING` is written
/// from it too).
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = user_messages, check_for_backend(Pg))]
struct QuoteRow {
    message: String,
    create_ts: NaiveDateTime,
    update_ts: NaiveDateTime,
}

impl From<QuoteRow> for StoredQuote {
    fn from(row: QuoteRow) -> Self {
        Self {
            text: row.message,
            created_at: row.create_ts.and_utc(),
            updated_at: row.update_ts.and_utc(),
        }
    }
}

/// The columns of a [`QuoteRow`], as diesel writes them in a select list,
/// for the statements written out by hand.
fn quote_row_columns() -> &'static str {
    static COLUMNS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| {
        let columns = <QuoteRow as Selectable<Pg>>::construct_selection();
        let listed = diesel::debug_query::<Pg, _>(&columns).to_string();
        // A select list has nothing to bind; the debug form still says so.
        listed
            .split(" -- binds:")
            .next()
            .unwrap_or_default()
            .to_owned()
    })
}

/// The SQL type of a [`QuoteRow`] as selected.
type QuoteRowSql = dsl::SqlTypeOf<dsl::AsSelect<QuoteRow, Pg>>;

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
struct Upsert<'a>(NewQuote<'a>);

impl QueryId for Upsert<'_> {
    type QueryId = Upsert<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for Upsert<'_> {
    type SqlType = (QuoteRowSql, Bool);
}

impl QueryFragment<Pg> for Upsert<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let Upsert(quote) = self;
        out.push_sql("INSERT INTO user_messages (user_id, message, create_ts, update_ts) VALUES (");
        out.push_bind_param::<Text, _>(&quote.user_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(quote.text.as_str())?;
        out.push_sql(
            ", timezone('UTC', now()), timezone('UTC', now())) \
             ON CONFLICT (user_id) DO UPDATE \
             SET message = excluded.message, update_ts = timezone('UTC', now()) \
             RETURNING ",
        );
        out.push_sql(quote_row_columns());
        out.push_sql(", xmax = 0");
        Ok(())
    }
}

/// The statement of [`find_quote`].
type FindQuote<'a> =
    dsl::Limit<dsl::Select<dsl::Find<user_messages::table, &'a str>, dsl::AsSelect<QuoteRow, Pg>>>;

fn find_statement(user_id: &str) -> FindQuote<'_> {
    user_messages::table
        .find(user_id)
        .select(QuoteRow::as_select())
        .limit(1)
}

/// The caller's quote, if they have one.
pub async fn find_quote(
    conn: &mut AsyncPgConnection,
    user_id: &str,
) -> QueryResult<Option<StoredQuote>> {
    find_statement(user_id)
        .get_result(conn)
        .await
        .optional()
        .map(|row| row.map(StoredQuote::from))
}

/// Creates or replaces a quote in one atomic statement.
pub async fn save_quote(
    conn: &mut AsyncPgConnection,
    quote: NewQuote<'_>,
) -> QueryResult<(StoredQuote, Saved)> {
    let (row, inserted): (QuoteRow, bool) = Upsert(quote).get_result(conn).await?;
    let saved = if inserted {
        Saved::Created
    } else {
        Saved::Replaced
    };
    Ok((row.into(), saved))
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
        assert_prepared_once(&find_statement("u"), "find_quote");
        let text = QuoteText::parse("m").unwrap();
        assert_prepared_once(
            &Upsert(NewQuote {
                user_id: "u",
                text: &text,
            }),
            "save_quote",
        );
        assert_prepared_once(
            &diesel::delete(user_messages::table.find("u")),
            "delete_quote",
        );
    }

    /// The SQL of `query`, without diesel's list of bind values.
    fn sql_of<Q: QueryFragment<Pg>>(query: &Q) -> String {
        let text = diesel::debug_query::<Pg, _>(query).to_string();
        text.split(" -- binds:")
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// A benchmark file's statement: its lines that are neither comments
    /// nor pgbench meta-commands, whitespace collapsed, no final `;`.
    fn statement_of(script: &str) -> String {
        let sql: Vec<&str> = script
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("--") && !line.starts_with('\\'))
            .collect();
        collapse(sql.join(" ").trim_end_matches(';'))
    }

    fn collapse(sql: &str) -> String {
        sql.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// `bench/pgbench/*.sql` measure the database's own speed for the API's
    /// read and write: they must be the very statements the API sends,
    /// with pgbench's values in place of the bind parameters.
    #[test]
    fn the_benchmark_runs_the_statements_the_api_sends() {
        const USER: &str = "'user_2bench' || lpad(:n::text, 20, '0')";
        const QUOTE: &str = "'The benchmark''s seed quote.'";
        let text = QuoteText::parse("m").unwrap();
        let upsert = Upsert(NewQuote {
            user_id: "u",
            text: &text,
        });
        for (file, sql, values) in [
            ("select.sql", sql_of(&find_statement("u")), [USER, "1"]),
            ("upsert.sql", sql_of(&upsert), [USER, QUOTE]),
        ] {
            let mut expected = sql;
            for (index, value) in values.iter().enumerate().rev() {
                expected = expected.replace(&format!("${}", index + 1), value);
            }
            let path = format!("{}/../../bench/pgbench/{file}", env!("CARGO_MANIFEST_DIR"));
            let script = std::fs::read_to_string(&path).unwrap();
            assert_eq!(
                statement_of(&script),
                collapse(&expected),
                "{path} no longer runs what the API sends; its statement should be:\n{expected};"
            );
        }
    }
}
