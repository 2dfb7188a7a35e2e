//! The API behind a real transaction-mode pooler (Debian's PgBouncer), as
//! behind Neon's or Supabase's pooled connection string: server connections
//! change between transactions, so nothing the API relies on may outlive
//! one. The rest of the database tests run through PgBouncer too when
//! `cargo xtask test` sets `QUOTES_TEST_THROUGH_PGBOUNCER`.

use std::time::Duration;

use quotes_core::db::PoolMode;
use serde_json::json;

use crate::helpers::{PgBouncer, Setup, assert_problem, spawn_app_with};

/// Callers at once, each a user of their own.
const CALLERS: usize = 32;
/// Requests each caller makes, alternately saving and reading.
const ROUNDS: usize = 16;

/// Many callers through a PgBouncer with two server connections, the API in
/// `mode`: the statuses of the requests that failed, and the app.
async fn many_callers_through_two_server_connections(
    mode: PoolMode,
) -> (Vec<u16>, crate::helpers::TestApp, PgBouncer) {
    let pooler = PgBouncer::start(2);
    let app = spawn_app_with(Setup {
        database_url: Some(pooler.database_url()),
        configure: Box::new(move |config, _| {
            config.database.pool_mode = mode;
            // Eight client connections over two worker shares, two server
            // connections behind them: consecutive transactions of one
            // client connection land on different server connections.
            config.database.pool_size = 8;
            config.http_workers = Some(2);
        }),
        ..Setup::default()
    })
    .await;

    let callers = (0..CALLERS).map(|caller| {
        let client = app.client.clone();
        let url = app.url("/me/quote");
        let token = app.token(&format!("user_pooled_{caller}"));
        async move {
            let mut failures = Vec::new();
            for round in 0..ROUNDS {
                let response = if round % 2 == 0 {
                    client
                        .put(&url)
                        .bearer_auth(&token)
                        .json(&json!({ "quote": format!("caller {caller}, round {round}") }))
                        .send()
                        .await
                } else {
                    client.get(&url).bearer_auth(&token).send().await
                };
                let status = response.map_or(0, |r| r.status().as_u16());
                if !matches!(status, 200 | 201) {
                    failures.push(status);
                }
            }
            failures
        }
    });
    let failures: Vec<u16> = futures_util::future::join_all(callers)
        .await
        .into_iter()
        .flatten()
        .collect();
    eprintln!(
        "{} requests through PgBouncer in transaction mode, the API in {mode:?} mode: {} failed",
        CALLERS * ROUNDS,
        failures.len()
    );
    (failures, app, pooler)
}

#[tokio::test]
async fn many_callers_share_two_server_connections_without_a_failure() {
    let (failures, app, _pooler) =
        many_callers_through_two_server_connections(PoolMode::Transaction).await;
    assert!(failures.is_empty(), "statuses that failed: {failures:?}");

    // Every caller's last save is what is stored.
    let db = app.db.client().await;
    for caller in 0..CALLERS {
        let stored: String = db
            .query_one(
                "SELECT message FROM user_messages WHERE user_id = $1",
                &[&format!("user_pooled_{caller}")],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(stored, format!("caller {caller}, round {}", ROUNDS - 2));
    }
}

#[tokio::test]
async fn in_session_mode_the_same_load_fails_requests() {
    // Statements prepared once per connection are missing on the server
    // connection the next transaction lands on.
    let (failures, _app, _pooler) =
        many_callers_through_two_server_connections(PoolMode::Session).await;
    assert!(
        failures.len() >= CALLERS * ROUNDS / 10,
        "only {} of {} failed",
        failures.len(),
        CALLERS * ROUNDS
    );
}

#[tokio::test]
async fn the_statement_timeout_holds_per_transaction_behind_pgbouncer() {
    let pooler = PgBouncer::start(2);
    let app = spawn_app_with(Setup {
        database_url: Some(pooler.database_url()),
        configure: Box::new(|config, _| {
            config.database.pool_mode = PoolMode::Transaction;
            config.database.statement_timeout = Duration::from_millis(300);
            // Only the statement timeout can end the wait below.
            config.request_timeout = Duration::from_secs(60);
        }),
        ..Setup::default()
    })
    .await;
    let token = app.token("user_blocked");

    // Another session holds the table: reads wait for it until the
    // statement timeout cancels them.
    let holder = app.db.client().await;
    holder
        .batch_execute("BEGIN; LOCK TABLE user_messages IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    assert_problem(app.get_quote(&token).await, 503).await;
    holder.batch_execute("ROLLBACK").await.unwrap();

    // The cancelled transaction left nothing behind on the pooled
    // connections: the next requests work.
    assert_eq!(app.get_quote(&token).await.status(), 404);
    assert_eq!(app.put_quote(&token, "After the lock.").await.status(), 201);
    assert_eq!(app.get_quote(&token).await.status(), 200);
}
