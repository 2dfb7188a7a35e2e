//! Postgres, connected to directly as the API's database layer does: TLS
//! modes, per-connection settings, migrations up and down.

use diesel_async::RunQueryDsl;

use crate::helpers::{TestDatabase, admin_port, admin_query_one, test_config};

#[derive(diesel::QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

async fn show(conn: &mut diesel_async::AsyncPgConnection, setting: &str) -> String {
    diesel::sql_query(format!("SELECT current_setting('{setting}') AS value"))
        .get_result::<Setting>(conn)
        .await
        .unwrap()
        .value
}

fn settings_for(url: &str) -> quotes_core::db::DatabaseSettings {
    test_config(url, "http://127.0.0.1:1").database
}

async fn ssl_in_use(conn: &mut diesel_async::AsyncPgConnection) -> bool {
    #[derive(diesel::QueryableByName)]
    struct Ssl {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        ssl: bool,
    }
    diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .get_result::<Ssl>(conn)
        .await
        .unwrap()
        .ssl
}

#[tokio::test]
async fn every_connection_sets_application_name_and_statement_timeout() {
    let db = TestDatabase::create().await;
    let mut conn = quotes_core::db::connect(&settings_for(&db.url()))
        .await
        .unwrap();
    assert_eq!(show(&mut conn, "application_name").await, "quotes-api");
    assert_eq!(show(&mut conn, "statement_timeout").await, "5s");
    assert_eq!(show(&mut conn, "TimeZone").await, "UTC");
}

#[tokio::test]
async fn sslmode_require_encrypts_and_disable_does_not() {
    let db = TestDatabase::create().await;
    let mut tls = quotes_core::db::connect(&settings_for(
        &db.url_at(&format!("127.0.0.1:{}", admin_port()), "sslmode=require"),
    ))
    .await
    .unwrap();
    assert!(ssl_in_use(&mut tls).await);
    let mut plain = quotes_core::db::connect(&settings_for(
        &db.url_at(&format!("127.0.0.1:{}", admin_port()), "sslmode=disable"),
    ))
    .await
    .unwrap();
    assert!(!ssl_in_use(&mut plain).await);
}

#[tokio::test]
async fn verify_full_checks_the_chain_and_the_host_name() {
    let db = TestDatabase::create().await;
    // The local server's certificate is self-signed for "localhost", so it
    // is its own root.
    let cert = admin_query_one("SELECT current_setting('ssl_cert_file')").await;
    let root = format!("sslrootcert={cert}");

    let full = db.url_at(
        &format!("localhost:{}", admin_port()),
        &format!("sslmode=verify-full&{root}"),
    );
    let mut conn = quotes_core::db::connect(&settings_for(&full))
        .await
        .unwrap();
    assert!(ssl_in_use(&mut conn).await);

    let wrong_name = db.url_at(
        &format!("127.0.0.1:{}", admin_port()),
        &format!("sslmode=verify-full&{root}"),
    );
    let error = quotes_core::db::connect(&settings_for(&wrong_name))
        .await
        .err()
        .expect("a certificate for another name is refused")
        .to_string();
    assert!(
        error.contains(r#"certificate not valid for name "127.0.0.1""#),
        "{error}"
    );

    let chain_only = db.url_at(
        &format!("127.0.0.1:{}", admin_port()),
        &format!("sslmode=verify-ca&{root}"),
    );
    assert!(
        quotes_core::db::connect(&settings_for(&chain_only))
            .await
            .is_ok()
    );

    let public_roots = db.url_at(
        &format!("localhost:{}", admin_port()),
        "sslmode=verify-full",
    );
    let error = quotes_core::db::connect(&settings_for(&public_roots))
        .await
        .err()
        .expect("a self-signed certificate is not trusted by the public roots")
        .to_string();
    assert!(error.contains("UnknownIssuer"), "{error}");
}

#[tokio::test]
async fn every_migration_is_undone_by_its_down_sql() {
    let db = TestDatabase::create().await;
    let client = db.client().await;
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut migrations: Vec<_> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    migrations.sort();
    assert!(migrations.len() >= 2);
    let table_exists = || async {
        client
            .query_one("SELECT to_regclass('user_messages') IS NOT NULL", &[])
            .await
            .unwrap()
            .get::<_, bool>(0)
    };
    for round in 0..2 {
        for migration in &migrations {
            let up = std::fs::read_to_string(migration.join("up.sql")).unwrap();
            client
                .batch_execute(&up)
                .await
                .unwrap_or_else(|e| panic!("{migration:?} up (round {round}): {e}"));
        }
        assert!(table_exists().await);
        for migration in migrations.iter().rev() {
            let down = std::fs::read_to_string(migration.join("down.sql")).unwrap();
            client
                .batch_execute(&down)
                .await
                .unwrap_or_else(|e| panic!("{migration:?} down: {e}"));
        }
        assert!(!table_exists().await);
    }
}

#[tokio::test]
async fn a_transaction_pooled_connection_keeps_no_session_setting() {
    let db = TestDatabase::create().await;
    let mut settings = settings_for(&db.url());
    settings.pool_mode = quotes_core::db::PoolMode::Transaction;
    let mut conn = quotes_core::db::connect(&settings).await.unwrap();
    // The timeout travels with each transaction instead (see `pooler.rs`).
    assert_eq!(show(&mut conn, "statement_timeout").await, "0");
    assert_eq!(show(&mut conn, "application_name").await, "quotes-api");
}
