//! The data layer: every query the API makes, in one place.
//!
//! Quotes live in `user_messages`, the table of the original tutorial app.
//! Its timestamps are `timestamp` (without time zone) holding UTC; every
//! write computes them in SQL as UTC so the session time zone never matters.
//!
//! Every statement is prepared once per connection (diesel's statement
//! cache); behind a transaction-mode pooler statements are prepared inside
//! each unit of work's transaction instead (`db::PoolMode`). Reads and
//! saves take many users at once, so that concurrent requests share one
//! statement and one round trip ([`QuoteStore`]). The functions take the
//! connection they are given and never open transactions themselves.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::{Batch, Batcher, Database, DatabaseError};
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

/// Creates or replaces many users' quotes in one statement, returning each
/// stored row, its user and whether it was inserted.
///
/// Written out rather than built with diesel's upsert DSL, which marks every
/// `ON CONFLICT DO UPDATE` as not cacheable (its changesets may differ from
/// call to call); this one never does, so it gets a fixed identity and is
/// prepared once per connection instead of on every save. The quotes travel
/// as two arrays, so one statement serves any number of them.
///
/// `xmax = 0` holds only for a freshly inserted row version, which tells a
/// creation from a replacement without a second query or a race.
#[derive(Debug, Clone, Copy)]
struct Upsert<'a> {
    user_ids: &'a [&'a str],
    texts: &'a [&'a str],
}

impl QueryId for Upsert<'_> {
    type QueryId = Upsert<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for Upsert<'_> {
    type SqlType = (Text, QuoteRowSql, Bool);
}

impl QueryFragment<Pg> for Upsert<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "INSERT INTO user_messages (user_id, message, create_ts, update_ts) \
             SELECT saved.user_id, saved.message, timezone('UTC', now()), timezone('UTC', now()) \
             FROM unnest(",
        );
        out.push_bind_param::<Array<Text>, _>(&self.user_ids)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Text>, _>(&self.texts)?;
        out.push_sql(
            "::text[]) AS saved (user_id, message) \
             ON CONFLICT (user_id) DO UPDATE \
             SET message = excluded.message, update_ts = timezone('UTC', now()) \
             RETURNING \"user_messages\".\"user_id\", ",
        );
        out.push_sql(quote_row_columns());
        out.push_sql(", xmax = 0");
        Ok(())
    }
}

/// Reads many users' quotes in one statement, each row with its user.
///
/// Written out for the same reason as [`Upsert`]: diesel gives no fixed
/// identity to `eq_any` on a slice, so it would build the statement's text
/// on every call to look it up in the cache.
#[derive(Debug, Clone, Copy)]
struct FindMany<'a> {
    user_ids: &'a [&'a str],
}

impl QueryId for FindMany<'_> {
    type QueryId = FindMany<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for FindMany<'_> {
    type SqlType = (Text, QuoteRowSql);
}

impl QueryFragment<Pg> for FindMany<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT \"user_messages\".\"user_id\", ");
        out.push_sql(quote_row_columns());
        out.push_sql(" FROM \"user_messages\" WHERE \"user_messages\".\"user_id\" = ANY(");
        out.push_bind_param::<Array<Text>, _>(&self.user_ids)?;
        out.push_sql("::text[])");
        Ok(())
    }
}

/// Each user's quote, if they have one, in the order asked (a user may be
/// asked for more than once), read in one statement.
pub async fn find_quotes(
    conn: &mut AsyncPgConnection,
    user_ids: &[&str],
) -> QueryResult<Vec<Option<StoredQuote>>> {
    let rows: Vec<(String, QuoteRow)> = FindMany { user_ids }.load(conn).await?;
    let found: HashMap<String, StoredQuote> = rows
        .into_iter()
        .map(|(user_id, row)| (user_id, row.into()))
        .collect();
    Ok(user_ids
        .iter()
        .map(|user_id| found.get(*user_id).cloned())
        .collect())
}

/// Creates or replaces each quote, all in one atomic statement, and answers
/// for each, in order. No user may appear twice.
///
/// Rows are written in the order of their user ids, so that two statements
/// saving some of the same users at once take the rows' locks in the same
/// order and cannot deadlock.
pub async fn save_quotes(
    conn: &mut AsyncPgConnection,
    quotes: &[NewQuote<'_>],
) -> QueryResult<Vec<(StoredQuote, Saved)>> {
    let mut sorted: Vec<&NewQuote<'_>> = quotes.iter().collect();
    sorted.sort_unstable_by_key(|quote| quote.user_id);
    let user_ids: Vec<&str> = sorted.iter().map(|quote| quote.user_id).collect();
    let texts: Vec<&str> = sorted.iter().map(|quote| quote.text.as_str()).collect();
    let rows: Vec<(String, QuoteRow, bool)> = Upsert {
        user_ids: &user_ids,
        texts: &texts,
    }
    .load(conn)
    .await?;
    let mut saved: HashMap<String, (StoredQuote, Saved)> = rows
        .into_iter()
        .map(|(user_id, row, inserted)| {
            let how = if inserted {
                Saved::Created
            } else {
                Saved::Replaced
            };
            (user_id, (row.into(), how))
        })
        .collect();
    quotes
        .iter()
        .map(|quote| {
            saved
                .remove(quote.user_id)
                .ok_or(diesel::result::Error::NotFound)
        })
        .collect()
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

/// The quotes as the API reads and writes them: concurrent reads share a
/// statement, and so do concurrent saves ([`Batcher`]); deletions, rare and
/// not worth the queue, run on their own.
#[derive(Debug, Clone)]
pub struct QuoteStore {
    db: Database,
    finds: Arc<Batcher<Finds>>,
    saves: Arc<Batcher<Saves>>,
}

impl QuoteStore {
    /// The store on `db`'s share of the pool.
    pub fn new(db: Database) -> Self {
        Self {
            finds: Arc::new(Batcher::new(db.clone())),
            saves: Arc::new(Batcher::new(db.clone())),
            db,
        }
    }

    /// The user's quote, if they have one.
    pub async fn find(&self, user_id: &str) -> Result<Option<StoredQuote>, DatabaseError> {
        self.finds.ask(user_id.to_owned()).await
    }

    /// Creates or replaces the user's quote.
    pub async fn save(
        &self,
        user_id: &str,
        text: QuoteText,
    ) -> Result<(StoredQuote, Saved), DatabaseError> {
        self.saves.ask((user_id.to_owned(), text)).await
    }

    /// Requests waiting for their batch to start, reads and saves.
    pub fn waiting(&self) -> usize {
        self.finds.queued() + self.saves.queued()
    }

    /// Deletes the user's quote; `false` when there was none.
    pub async fn delete(&self, user_id: &str) -> Result<bool, DatabaseError> {
        self.db
            .run(async |conn| delete_quote(conn, user_id).await)
            .await
    }
}

/// [`find_quotes`] for the requests waiting at once.
#[derive(Debug)]
pub struct Finds;

impl Batch for Finds {
    const NAME: &'static str = "find";
    type Item = String;
    type Output = Option<StoredQuote>;

    fn key(_: &String) -> Option<&str> {
        None
    }

    async fn run(
        conn: &mut AsyncPgConnection,
        user_ids: &[String],
    ) -> QueryResult<Vec<Self::Output>> {
        let user_ids: Vec<&str> = user_ids.iter().map(String::as_str).collect();
        find_quotes(conn, &user_ids).await
    }
}

/// [`save_quotes`] for the requests waiting at once, one per user.
#[derive(Debug)]
pub struct Saves;

impl Batch for Saves {
    const NAME: &'static str = "save";
    type Item = (String, QuoteText);
    type Output = (StoredQuote, Saved);

    fn key((user_id, _): &Self::Item) -> Option<&str> {
        Some(user_id)
    }

    async fn run(
        conn: &mut AsyncPgConnection,
        items: &[Self::Item],
    ) -> QueryResult<Vec<Self::Output>> {
        let quotes: Vec<NewQuote<'_>> = items
            .iter()
            .map(|(user_id, text)| NewQuote { user_id, text })
            .collect();
        save_quotes(conn, &quotes).await
    }
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
        assert_prepared_once(&FindMany { user_ids: &["u"] }, "find_quotes");
        assert_prepared_once(
            &Upsert {
                user_ids: &["u"],
                texts: &["m"],
            },
            "save_quotes",
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
        // One user per statement: the database's speed for a client that
        // sends each request's query on its own.
        const USERS: &str = "ARRAY['user_2bench' || lpad(:n::text, 20, '0')]";
        const QUOTES: &str = "ARRAY['The benchmark''s seed quote.']";
        let upsert = Upsert {
            user_ids: &["u"],
            texts: &["m"],
        };
        for (file, sql, values) in [
            (
                "select.sql",
                sql_of(&FindMany { user_ids: &["u"] }),
                vec![USERS],
            ),
            ("upsert.sql", sql_of(&upsert), vec![USERS, QUOTES]),
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
