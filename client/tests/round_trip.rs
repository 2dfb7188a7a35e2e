//! The generated client against the real API: every `/me/quote` outcome a
//! caller handles, through the typed methods and the problem helper.

mod support;

use quotes_client::problem::problem;
use reqwest::StatusCode;

use support::{Provider, TestApi, save};

#[tokio::test]
async fn a_quote_round_trips_through_the_generated_client() {
    let api = TestApi::start(Provider::Development).await;
    let client = api.client_for("client_alice");

    let created = client
        .put_quote(&save("  Simplicity is prerequisite for reliability.\n"))
        .await
        .expect("the first PUT creates the quote");
    assert_eq!(created.status(), StatusCode::CREATED);
    let created = created.into_inner();
    assert_eq!(
        created.quote.as_str(),
        "Simplicity is prerequisite for reliability."
    );

    let replaced = client
        .put_quote(&save("Make it work, make it right, make it fast."))
        .await
        .expect("the second PUT replaces it");
    assert_eq!(replaced.status(), StatusCode::OK);
    let replaced = replaced.into_inner();
    assert_eq!(replaced.created_at, created.created_at);
    assert!(replaced.updated_at >= created.updated_at);

    let fetched = client.get_quote().await.expect("GET finds the quote");
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(
        fetched.into_inner().quote.as_str(),
        "Make it work, make it right, make it fast."
    );

    let too_long = client
        .put_quote(&save(&"x".repeat(1001)))
        .await
        .expect_err("1001 characters are refused");
    assert_eq!(too_long.status(), Some(StatusCode::UNPROCESSABLE_ENTITY));
    let refused = problem(too_long).await;
    assert_eq!(refused.type_, "urn:quotes:problem:invalid-quote");
    assert_eq!(refused.status, 422);
    assert!(refused.detail.contains("1001"), "{}", refused.detail);

    let deleted = client.delete_quote().await.expect("DELETE removes it");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    let missing = problem(client.get_quote().await.expect_err("nothing is left")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.type_, "urn:quotes:problem:quote-not-found");
    assert!(!missing.detail.is_empty());
}

#[tokio::test]
async fn without_a_token_the_problem_says_so() {
    let api = TestApi::start(Provider::Development).await;
    let anonymous = quotes_client::Client::new(&api.base_url, quotes_client::auth::Bearer::none());

    let refused = problem(
        anonymous
            .get_quote()
            .await
            .expect_err("a token is required"),
    )
    .await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.type_, "urn:quotes:problem:missing-token");
}
