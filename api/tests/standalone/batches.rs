//! Concurrent requests' queries share statements: the data layer's queues
//! on a real Postgres, their batches held back by locks the test takes, so
//! that what queues behind them is known rather than timed.

use std::time::{Duration, Instant};

use quotes_core::db::{
    Database, DatabaseError, DatabaseSettings, DatabaseUnavailable, DatabaseUrl,
};
use quotes_core::quotes::QuoteText;
use quotes_core::store::{QuoteStore, Saved, StoredQuote};
use tokio::task::JoinHandle;

use crate::helpers::TestDatabase;

/// `parts` shares of a pool on `db`, migrated, with `acquire` as the
/// longest wait for a batch to start.
async fn shares(db: &TestDatabase, parts: usize, acquire: Duration) -> Vec<Database> {
    let mut settings = DatabaseSettings::new(DatabaseUrl::parse(&db.url()).unwrap());
    settings.acquire_timeout = acquire;
    let shares = Database::split(settings, parts).unwrap();
    shares[0].migrate_in_background().await;
    assert!(shares[0].is_migrated());
    shares
}

fn quote(text: &str) -> QuoteText {
    QuoteText::parse(text).unwrap()
}

fn save(
    store: &QuoteStore,
    user: &str,
    text: &str,
) -> JoinHandle<Result<(StoredQuote, Saved), DatabaseError>> {
    let (store, user, text) = (store.clone(), user.to_owned(), quote(text));
    tokio::spawn(async move { store.save(&user, text).await })
}

fn find(store: &QuoteStore, user: &str) -> JoinHandle<Result<Option<StoredQuote>, DatabaseError>> {
    let (store, user) = (store.clone(), user.to_owned());
    tokio::spawn(async move { store.find(&user).await })
}

/// Saves a quote for each of `users`, queued in that order.
fn save_in_order(
    store: &QuoteStore,
    users: Vec<String>,
    text: &str,
) -> JoinHandle<Vec<Result<(StoredQuote, Saved), DatabaseError>>> {
    let (store, text) = (store.clone(), quote(text));
    tokio::spawn(async move {
        // `join_all` polls its futures first in their order, and a save
        // joins its queue on its first poll.
        futures_util::future::join_all(users.iter().map(|user| store.save(user, text.clone())))
            .await
    })
}

/// Polls until `check` holds; fails the test after 10 s.
async fn until(what: &str, check: impl AsyncFn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The API's statements waiting for a lock in `db`.
async fn blocked(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE application_name = 'quotes-api' AND datname = current_database() \
             AND wait_event_type = 'Lock'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// Counts the statements that write quotes, whatever rows each writes.
async fn count_writes(client: &tokio_postgres::Client) {
    client
        .batch_execute(
            "CREATE TABLE statements (at timestamptz NOT NULL); \
             CREATE FUNCTION count_statement() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN INSERT INTO statements VALUES (now()); RETURN NULL; END $$; \
             CREATE TRIGGER counted AFTER INSERT ON user_messages \
             FOR EACH STATEMENT EXECUTE FUNCTION count_statement();",
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn saves_that_arrive_while_one_is_in_flight_share_the_next_statement() {
    let Scene {
        db,
        store,
        before,
        observer,
    } = scene(Duration::from_secs(30)).await;
    count_writes(&observer).await;
    let (holder, first) = hold_a_save(&db, &store, &observer).await;
    let others: Vec<_> = (0..31)
        .map(|n| save(&store, &format!("user_{n:02}"), &format!("Quote {n}.")))
        .collect();
    let second = save(&store, "user_held", "Second.");
    until("32 saves queue behind it", async || store.waiting() == 32).await;
    holder.batch_execute("COMMIT").await.unwrap();

    let (first, how) = first.await.unwrap().unwrap();
    assert_eq!((first.text.as_str(), how), ("First.", Saved::Replaced));
    let (second, how) = second.await.unwrap().unwrap();
    assert_eq!((second.text.as_str(), how), ("Second.", Saved::Replaced));
    assert_eq!(second.created_at, before.created_at);
    assert!(second.updated_at >= first.updated_at);
    for (n, other) in others.into_iter().enumerate() {
        let (stored, how) = other.await.unwrap().unwrap();
        assert_eq!((stored.text, how), (format!("Quote {n}."), Saved::Created));
    }
    let statements: i64 = observer
        .query_one("SELECT count(*) FROM statements", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(statements, 2, "the held save, then the 32 behind it in one");
    let stored: String = observer
        .query_one(
            "SELECT message FROM user_messages WHERE user_id = 'user_held'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        stored, "Second.",
        "a user's later save is written after the earlier one"
    );
}

#[tokio::test]
async fn reads_that_arrive_while_one_is_in_flight_each_get_their_own_answer() {
    let db = TestDatabase::create().await;
    let store = QuoteStore::new(shares(&db, 1, Duration::from_secs(30)).await.remove(0));
    store.save("user_a", quote("A.")).await.unwrap();
    store.save("user_b", quote("B.")).await.unwrap();
    let observer = db.client().await;

    let holder = db.client().await;
    holder
        .batch_execute("BEGIN; LOCK TABLE user_messages IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let first = find(&store, "user_b");
    until("the first read waits for the table", async || {
        blocked(&observer).await == 1
    })
    .await;
    let asked = ["user_a", "user_b", "user_none", "user_a"];
    let reads: Vec<_> = asked.iter().map(|user| find(&store, user)).collect();
    until("the reads queue behind it", async || {
        store.waiting() == asked.len()
    })
    .await;
    holder.batch_execute("COMMIT").await.unwrap();

    let text = |found: Option<StoredQuote>| found.map(|stored| stored.text);
    assert_eq!(text(first.await.unwrap().unwrap()).as_deref(), Some("B."));
    let mut answers = Vec::new();
    for read in reads {
        answers.push(text(read.await.unwrap().unwrap()));
    }
    assert_eq!(
        answers,
        [
            Some("A.".to_owned()),
            Some("B.".to_owned()),
            None,
            Some("A.".to_owned())
        ]
    );
}

/// A transaction of its own holding `user`'s row.
async fn hold_row(db: &TestDatabase, user: &str) -> tokio_postgres::Client {
    let holder = db.client().await;
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM user_messages WHERE user_id = '{user}' FOR UPDATE"
        ))
        .await
        .unwrap();
    holder
}

/// A store on one share of a fresh database whose batches may wait
/// `acquire` to start, `user_held`'s quote saved `before`, and a
/// connection of the test's own to watch the database.
struct Scene {
    db: TestDatabase,
    store: QuoteStore,
    before: StoredQuote,
    observer: tokio_postgres::Client,
}

async fn scene(acquire: Duration) -> Scene {
    let db = TestDatabase::create().await;
    let store = QuoteStore::new(shares(&db, 1, acquire).await.remove(0));
    let (before, _) = store.save("user_held", quote("Before.")).await.unwrap();
    let observer = db.client().await;
    Scene {
        db,
        store,
        before,
        observer,
    }
}

/// `user_held`'s row held by a transaction of the test's, and a save of
/// `First.` for that user in flight, waiting for it.
async fn hold_a_save(
    db: &TestDatabase,
    store: &QuoteStore,
    observer: &tokio_postgres::Client,
) -> (
    tokio_postgres::Client,
    JoinHandle<Result<(StoredQuote, Saved), DatabaseError>>,
) {
    let holder = hold_row(db, "user_held").await;
    let first = save(store, "user_held", "First.");
    until("the first save waits for the row", async || {
        blocked(observer).await == 1
    })
    .await;
    (holder, first)
}

#[tokio::test]
async fn two_workers_saving_the_same_users_in_opposite_orders_do_not_deadlock() {
    let db = TestDatabase::create().await;
    let shares = shares(&db, 2, Duration::from_secs(30)).await;
    let (one, two) = (
        QuoteStore::new(shares[0].clone()),
        QuoteStore::new(shares[1].clone()),
    );
    let observer = db.client().await;
    let users: Vec<String> = (0..64).map(|n| format!("user_{n:02}")).collect();
    for user in users
        .iter()
        .chain(&["user_gate_1".to_owned(), "user_gate_2".to_owned()])
    {
        one.save(user, quote("Before.")).await.unwrap();
    }

    // Each worker has a save in flight waiting for a row, and sixty-four
    // saves queued behind it: the same users, in opposite orders.
    let last = hold_row(&db, "user_63").await;
    let gate_1 = hold_row(&db, "user_gate_1").await;
    let gate_2 = hold_row(&db, "user_gate_2").await;
    let gates = [
        save(&one, "user_gate_1", "Gate."),
        save(&two, "user_gate_2", "Gate."),
    ];
    until("both workers wait for a row", async || {
        blocked(&observer).await == 2
    })
    .await;
    let forward = save_in_order(&one, users.clone(), "One.");
    let backward = save_in_order(&two, users.iter().rev().cloned().collect(), "Two.");
    until("both batches queue", async || {
        one.waiting() == 64 && two.waiting() == 64
    })
    .await;

    // The second worker's batch goes first, and waits for the last user;
    // then the first worker's.
    let [gate_one, gate_two] = gates;
    gate_2.batch_execute("COMMIT").await.unwrap();
    gate_two.await.unwrap().unwrap();
    until("the second batch waits", async || {
        blocked(&observer).await == 2
    })
    .await;
    gate_1.batch_execute("COMMIT").await.unwrap();
    gate_one.await.unwrap().unwrap();
    until("both batches wait", async || blocked(&observer).await == 2).await;
    // Written in the order asked, the second batch would hold nothing yet
    // and the first every row but the last: the second would take the
    // last row, then wait for the first, which waits for the last row.
    last.batch_execute("COMMIT").await.unwrap();

    let failures: Vec<String> = [forward.await.unwrap(), backward.await.unwrap()]
        .into_iter()
        .flatten()
        .filter_map(|saved| saved.err().map(|error| error.to_string()))
        .collect();
    assert!(
        failures.is_empty(),
        "{} saves failed: {:?}",
        failures.len(),
        failures.first()
    );
}

#[tokio::test]
async fn a_request_whose_batch_does_not_start_in_time_gets_unavailable() {
    let Scene {
        db,
        store,
        observer,
        ..
    } = scene(Duration::from_millis(200)).await;
    let (holder, first) = hold_a_save(&db, &store, &observer).await;
    let refused = store.save("user_other", quote("Other.")).await.unwrap_err();
    assert!(
        matches!(&refused, DatabaseError::Unavailable(why) if matches!(**why, DatabaseUnavailable::Waited(_))),
        "{refused:?}"
    );
    assert_eq!(store.waiting(), 0, "it left the queue");
    holder.batch_execute("COMMIT").await.unwrap();
    let (stored, _) = first.await.unwrap().unwrap();
    assert_eq!(
        stored.text, "First.",
        "the batch in flight was not abandoned"
    );
    let other: i64 = observer
        .query_one(
            "SELECT count(*) FROM user_messages WHERE user_id = 'user_other'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(other, 0, "a refused save writes nothing");
}

#[tokio::test]
async fn a_save_whose_request_has_gone_before_its_batch_starts_is_not_made() {
    let Scene {
        db,
        store,
        observer,
        ..
    } = scene(Duration::from_secs(30)).await;
    let (holder, first) = hold_a_save(&db, &store, &observer).await;
    let gone = save(&store, "user_gone", "Never written.");
    until("the second save queues", async || store.waiting() == 1).await;
    // Its client left, or its deadline passed: the request is dropped.
    gone.abort();
    assert!(gone.await.unwrap_err().is_cancelled());
    holder.batch_execute("COMMIT").await.unwrap();
    first.await.unwrap().unwrap();
    // A save queued after it is answered after its batch would have been.
    store.save("user_after", quote("After.")).await.unwrap();

    let written: Vec<String> = observer
        .query("SELECT user_id FROM user_messages ORDER BY user_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(written, ["user_after", "user_held"]);
}
