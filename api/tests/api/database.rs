//! Postgres behind the API: TLS to it, compatibility with the original
//! app's table, and a database that goes away and comes back.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{FlakyProxy, Setup, TestDatabase, admin_port, assert_problem, spawn_app_with};

#[tokio::test]
async fn the_api_serves_over_tls_to_postgres() {
    let app = spawn_app_with(Setup {
        database_url: Some(Box::new(|db| {
            db.url_at(&format!("127.0.0.1:{}", admin_port()), "sslmode=require")
        })),
        ..Setup::default()
    })
    .await;
    let token = app.token("user_tls");
    assert_eq!(
        app.put_quote(&token, "Encrypted in transit.")
            .await
            .status(),
        201
    );
    assert_eq!(app.get_quote(&token).await.status(), 200);
    let ssl: bool = app
        .db
        .client()
        .await
        .query_one(
            "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = 'quotes-api' AND a.datname = current_database()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ssl);
}

#[tokio::test]
async fn a_database_made_by_the_original_app_keeps_its_rows() {
    let db = TestDatabase::create().await;
    // The table exactly as the Next.js + Drizzle tutorial creates it.
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE user_messages (
                 user_id text PRIMARY KEY NOT NULL,
                 create_ts timestamp DEFAULT now() NOT NULL,
                 message text NOT NULL
             );
             INSERT INTO user_messages (user_id, create_ts, message)
             VALUES ('user_legacy', '2024-03-01 12:34:56.789', 'Written by the old app.');",
        )
        .await
        .unwrap();
    let app = spawn_app_with(Setup {
        database: Some(db),
        ..Setup::default()
    })
    .await;
    let response = app.get_quote(&app.token("user_legacy")).await;
    assert_eq!(response.status(), 200);
    let quote: Value = response.json().await.unwrap();
    assert_eq!(quote["quote"], "Written by the old app.");
    assert_eq!(quote["created_at"], "2024-03-01T12:34:56.789000Z");
    assert_eq!(quote["updated_at"], quote["created_at"]);
}

#[tokio::test]
async fn a_database_that_goes_away_gives_503_and_recovery_needs_no_restart() {
    let proxy = FlakyProxy::to_database().await;
    let app = spawn_app_with(Setup {
        database_url: Some(proxy.database_url()),
        ..Setup::default()
    })
    .await;
    let token = app.token("user_a");
    assert_eq!(
        app.put_quote(&token, "Before the outage.").await.status(),
        201
    );

    proxy.cut();
    let started = std::time::Instant::now();
    let problem = assert_problem(app.get_quote(&token).await, 503).await;
    assert_eq!(problem["type"], "urn:quotes:problem:unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "failed fast: {:?}",
        started.elapsed()
    );
    assert_problem(app.put_quote(&token, "During the outage.").await, 503).await;
    assert!(
        app.wait_for_status("/readyz", 503, Duration::from_secs(5))
            .await
    );

    proxy.restore();
    app.wait_until_ready().await;
    let quote: Value = app.get_quote(&token).await.json().await.unwrap();
    assert_eq!(quote["quote"], "Before the outage.");
    assert_eq!(
        app.put_quote(&token, "After the outage.").await.status(),
        200
    );
}

#[tokio::test]
async fn a_database_down_at_start_is_migrated_once_it_comes_up() {
    let proxy = FlakyProxy::to_database().await;
    proxy.cut();
    let app = spawn_app_with(Setup {
        database_url: Some(proxy.database_url()),
        wait_ready: false,
        ..Setup::default()
    })
    .await;
    assert!(
        app.wait_for_status("/healthz", 200, Duration::from_secs(5))
            .await
    );
    assert_problem(
        app.client.get(app.url("/readyz")).send().await.unwrap(),
        503,
    )
    .await;
    assert_problem(app.get_quote(&app.token("user_a")).await, 503).await;

    proxy.restore();
    app.wait_until_ready().await;
    assert_eq!(
        app.put_quote(&app.token("user_a"), "Late but fine.")
            .await
            .status(),
        201
    );
}
