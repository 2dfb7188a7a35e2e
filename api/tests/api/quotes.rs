//! `/me/quote`: every row of the contract's resource table.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::helpers::{assert_problem, spawn_app};

fn timestamp(body: &Value, field: &str) -> DateTime<Utc> {
    let raw = body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing in {body}"));
    assert!(raw.ends_with('Z'), "{field} is not UTC: {raw}");
    DateTime::parse_from_rfc3339(raw)
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn get_without_a_quote_is_404_problem() {
    let app = spawn_app().await;
    let response = app.get_quote(&app.token("user_a")).await;
    let problem = assert_problem(response, 404).await;
    assert_eq!(problem["type"], "urn:quotes:problem:quote-not-found");
}

#[tokio::test]
async fn put_creates_then_replaces_keeping_created_at() {
    let app = spawn_app().await;
    let token = app.token("user_a");

    let created = app
        .put_quote(&token, "Simplicity is prerequisite for reliability.")
        .await;
    assert_eq!(created.status(), 201);
    let first: Value = created.json().await.unwrap();
    assert_eq!(
        first["quote"],
        "Simplicity is prerequisite for reliability."
    );
    assert_eq!(
        timestamp(&first, "created_at"),
        timestamp(&first, "updated_at")
    );

    // A later transaction: its `now()` is later, by at least the round
    // trip between the two requests.
    let replaced = app
        .put_quote(&token, "Premature optimization is the root of all evil.")
        .await;
    assert_eq!(replaced.status(), 200);
    let second: Value = replaced.json().await.unwrap();
    assert_eq!(
        second["quote"],
        "Premature optimization is the root of all evil."
    );
    assert_eq!(
        timestamp(&second, "created_at"),
        timestamp(&first, "created_at")
    );
    assert!(timestamp(&second, "updated_at") > timestamp(&first, "updated_at"));

    let fetched = app.get_quote(&token).await;
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.json::<Value>().await.unwrap(), second);
}

#[tokio::test]
async fn the_trimmed_text_is_stored_and_returned() {
    let app = spawn_app().await;
    let token = app.token("user_a");
    let response = app
        .put_quote(&token, " \n\t Be kind.\n\tAlways. \u{3000}\n")
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.json::<Value>().await.unwrap()["quote"],
        "Be kind.\n\tAlways."
    );
    let stored: String = app
        .db
        .client()
        .await
        .query_one(
            "SELECT message FROM user_messages WHERE user_id = 'user_a'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, "Be kind.\n\tAlways.");
}

#[tokio::test]
async fn unicode_survives_byte_for_byte() {
    let app = spawn_app().await;
    let samples = [
        "👩‍👩‍👧‍👦 family, 🇺🇦 flag, 👍🏽 thumbs",
        "e\u{301}te\u{301} — combining acute accents",
        "שלום עולם — עברית",
        "مرحبا بالعالم \u{200f}(RTL mark)",
        "漢字かなカナ한국어",
        "zero\u{200b}width\u{200d}joiner",
    ];
    for (index, sample) in samples.iter().enumerate() {
        let token = app.token(&format!("unicode_{index}"));
        let saved = app.put_quote(&token, sample).await;
        assert_eq!(saved.status(), 201, "{sample}");
        let body = app.get_quote(&token).await.bytes().await.unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body["quote"].as_str().unwrap().as_bytes(),
            sample.as_bytes()
        );
    }
}

#[tokio::test]
async fn a_thousand_characters_pass_and_one_more_is_422() {
    let app = spawn_app().await;
    let token = app.token("user_a");
    let at_limit = "🙂".repeat(1000);
    assert_eq!(app.put_quote(&token, &at_limit).await.status(), 201);

    let problem = assert_problem(app.put_quote(&token, &"a".repeat(1001)).await, 422).await;
    assert_eq!(problem["type"], "urn:quotes:problem:invalid-quote");
    assert!(
        problem["detail"].as_str().unwrap().contains("1001"),
        "{problem}"
    );
    // The refused write changed nothing.
    let kept: Value = app.get_quote(&token).await.json().await.unwrap();
    assert_eq!(kept["quote"], at_limit);
}

#[tokio::test]
async fn empty_blank_and_control_characters_are_422() {
    let app = spawn_app().await;
    let token = app.token("user_a");
    for bad in [
        "",
        "   \n\t ",
        "bell\u{7}",
        "nul\u{0}byte",
        "carriage\rreturn",
        "esc\u{1b}[31m",
    ] {
        let response = app.put_quote(&token, bad).await;
        let problem = assert_problem(response, 422).await;
        assert_eq!(
            problem["type"], "urn:quotes:problem:invalid-quote",
            "{bad:?}"
        );
    }
    assert_eq!(app.get_quote(&token).await.status(), 404);
}

#[tokio::test]
async fn bodies_of_the_wrong_shape_are_422() {
    let app = spawn_app().await;
    let token = app.token("user_a");
    for body in [
        json!({}),
        json!({"quote": 5}),
        json!({"quote": null}),
        json!(["quote"]),
        json!("text"),
    ] {
        let response = app
            .put_raw(&token, Some("application/json"), body.to_string())
            .await;
        assert_problem(response, 422).await;
    }
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let token = app.token("user_a");
    for body in [
        "{\"quote\": \"unterminated",
        "not json",
        "{\"quote\": \"a\",}",
        "",
    ] {
        let response = app.put_raw(&token, Some("application/json"), body).await;
        let problem = assert_problem(response, 400).await;
        assert_eq!(
            problem["type"], "urn:quotes:problem:malformed-json",
            "{body:?}"
        );
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = spawn_app().await;
    let token = app.token("user_a");
    let body = json!({"quote": "hi"}).to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let response = app.put_raw(&token, content_type, body.clone()).await;
        assert_problem(response, 415).await;
    }
    assert_eq!(app.get_quote(&token).await.status(), 404);
}

#[tokio::test]
async fn a_body_over_16_kib_is_413_and_just_under_is_judged_on_its_content() {
    let app = spawn_app().await;
    let token = app.token("user_a");
    let over = json!({ "quote": "a".repeat(16 * 1024) }).to_string();
    assert_problem(
        app.put_raw(&token, Some("application/json"), over.clone())
            .await,
        413,
    )
    .await;

    // Without a Content-Length the limit holds too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = over
        .into_bytes()
        .chunks(1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    assert_problem(
        app.put_raw(&token, Some("application/json"), streamed)
            .await,
        413,
    )
    .await;

    let under = json!({ "quote": "a".repeat(16 * 1024 - 20) }).to_string();
    assert!(under.len() <= 16 * 1024);
    assert_problem(
        app.put_raw(&token, Some("application/json"), under).await,
        422,
    )
    .await;
}

#[tokio::test]
async fn delete_is_204_then_404() {
    let app = spawn_app().await;
    let token = app.token("user_a");
    assert_problem(app.delete_quote(&token).await, 404).await;

    app.put_quote(&token, "Ephemeral.").await;
    let deleted = app.delete_quote(&token).await;
    assert_eq!(deleted.status(), 204);
    assert!(deleted.bytes().await.unwrap().is_empty());

    assert_problem(app.get_quote(&token).await, 404).await;
    assert_problem(app.delete_quote(&token).await, 404).await;
}

#[tokio::test]
async fn users_never_see_or_change_each_others_quotes() {
    let app = spawn_app().await;
    let alice = app.token("user_alice");
    let bob = app.token("user_bob");

    assert_eq!(app.put_quote(&alice, "Alice's words.").await.status(), 201);
    assert_problem(app.get_quote(&bob).await, 404).await;
    assert_problem(app.delete_quote(&bob).await, 404).await;

    assert_eq!(app.put_quote(&bob, "Bob's words.").await.status(), 201);
    let alices: Value = app.get_quote(&alice).await.json().await.unwrap();
    assert_eq!(alices["quote"], "Alice's words.");

    assert_eq!(app.delete_quote(&bob).await.status(), 204);
    assert_eq!(app.get_quote(&alice).await.status(), 200);
}

#[tokio::test]
async fn fifty_concurrent_puts_by_one_user_create_exactly_once() {
    let app = spawn_app().await;
    let token = app.token("user_racer");
    let requests = (0..50).map(|i| {
        let client = app.client.clone();
        let url = app.url("/me/quote");
        let token = token.clone();
        async move {
            client
                .put(url)
                .bearer_auth(token)
                .json(&json!({ "quote": format!("attempt {i}") }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(requests).await;
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        49,
        "{statuses:?}"
    );
    let rows: i64 = app
        .db
        .client()
        .await
        .query_one("SELECT count(*) FROM user_messages", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn unsupported_methods_are_405_with_allow() {
    let app = spawn_app().await;
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PATCH,
        reqwest::Method::TRACE,
    ] {
        let response = app
            .client
            .request(method.clone(), app.url("/me/quote"))
            .bearer_auth(app.token("user_a"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method}");
        assert_eq!(response.headers()["allow"], "GET, HEAD, PUT, DELETE");
        assert_problem(response, 405).await;
    }
}
