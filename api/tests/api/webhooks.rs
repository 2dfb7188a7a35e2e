//! `POST /webhooks/clerk`: signed deliveries from Clerk (Svix), checked the
//! Standard Webhooks way, and what `user.deleted` does to stored data.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use quotes_core::webhooks::SigningSecret;
use serde_json::{Value, json};

use crate::helpers::{FlakyProxy, Setup, TestApp, assert_problem, now, spawn_app, spawn_app_with};

/// The endpoint's secret in these tests, as the Clerk Dashboard shows it.
const SECRET: &str = "whsec_dGVzdC13ZWJob29rLXNpZ25pbmctc2VjcmV0LTAxMjM0NTY3";
const OTHER_SECRET: &str = "whsec_c29tZW9uZS1lbHNlcy1lbmRwb2ludC1zZWNyZXQ=";

/// A delivery as Svix would send it: the three headers and the exact body.
struct Delivery {
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
}

impl Delivery {
    /// `body` signed with `secret`, sent now.
    fn signed(secret: &str, id: &str, body: &[u8]) -> Self {
        Self::signed_at(secret, id, now(), body)
    }

    fn signed_at(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Self {
        let timestamp = timestamp.to_string();
        Self {
            signature: format!("v1,{}", sign(secret, id, &timestamp, body)),
            id: id.to_owned(),
            timestamp,
            body: body.to_vec(),
        }
    }

    fn event(id: &str, event: &Value) -> Self {
        Self::signed(SECRET, id, event.to_string().as_bytes())
    }
}

/// Base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the secret's key.
fn sign(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key_bytes = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key_bytes);
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    STANDARD.encode(hmac::sign(&key, &signed).as_ref())
}

fn user_deleted(user_id: &str) -> Value {
    json!({
        "data": { "deleted": true, "id": user_id, "object": "user" },
        "object": "event",
        "timestamp": 1_716_883_200_000_i64,
        "type": "user.deleted",
    })
}

async fn spawn_with_webhooks() -> TestApp {
    spawn_app_with(Setup {
        configure: Box::new(|config, _| {
            config.clerk_webhook_secret = Some(SigningSecret::parse(SECRET).unwrap());
        }),
        ..Setup::default()
    })
    .await
}

impl TestApp {
    async fn deliver(&self, delivery: &Delivery) -> reqwest::Response {
        self.client
            .post(self.url("/webhooks/clerk"))
            .header("content-type", "application/json")
            .header("svix-id", &delivery.id)
            .header("svix-timestamp", &delivery.timestamp)
            .header("svix-signature", &delivery.signature)
            .body(delivery.body.clone())
            .send()
            .await
            .unwrap()
    }

    /// Saves a quote for each user.
    async fn with_quotes(&self, users: &[&str]) {
        for user in users {
            let saved = self
                .put_quote(&self.token(user), &format!("{user}'s quote"))
                .await;
            assert_eq!(saved.status(), 201);
        }
    }

    /// The users with a stored row, straight from the database.
    async fn stored_users(&self) -> Vec<String> {
        self.db
            .client()
            .await
            .query("SELECT user_id FROM user_messages ORDER BY user_id", &[])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    }

    async fn quote_status(&self, user: &str) -> u16 {
        self.get_quote(&self.token(user)).await.status().as_u16()
    }
}

/// Asserts a 400 invalid-webhook problem that does not echo the signature.
async fn assert_rejected(response: reqwest::Response, delivery: &Delivery) -> Value {
    let problem = assert_problem(response, 400).await;
    assert_eq!(problem["type"], "urn:quotes:problem:invalid-webhook");
    let text = problem.to_string();
    assert!(
        !text.contains(SECRET.trim_start_matches("whsec_")),
        "{text}"
    );
    if let Some((_, signature)) = delivery.signature.split_once(',') {
        assert!(!text.contains(signature), "{text}");
    }
    problem
}

#[tokio::test]
async fn user_deleted_erases_that_users_quote_and_only_theirs() {
    let app = spawn_with_webhooks().await;
    app.with_quotes(&["user_gone", "user_stays"]).await;

    let response = app
        .deliver(&Delivery::event("msg_1", &user_deleted("user_gone")))
        .await;

    assert_eq!(response.status(), 204);
    assert_eq!(app.quote_status("user_gone").await, 404);
    assert_eq!(app.quote_status("user_stays").await, 200);
    assert_eq!(app.stored_users().await, ["user_stays"]);
}

#[tokio::test]
async fn a_repeated_delivery_is_harmless() {
    let app = spawn_with_webhooks().await;
    app.with_quotes(&["user_gone", "user_stays"]).await;
    let delivery = Delivery::event("msg_1", &user_deleted("user_gone"));

    assert_eq!(app.deliver(&delivery).await.status(), 204);
    assert_eq!(app.deliver(&delivery).await.status(), 204);

    assert_eq!(app.stored_users().await, ["user_stays"]);
}

#[tokio::test]
async fn deleting_a_user_with_nothing_stored_is_acknowledged() {
    let app = spawn_with_webhooks().await;
    app.with_quotes(&["user_stays"]).await;

    let response = app
        .deliver(&Delivery::event("msg_1", &user_deleted("user_never_saved")))
        .await;

    assert_eq!(response.status(), 204);
    assert_eq!(app.stored_users().await, ["user_stays"]);
}

#[tokio::test]
async fn a_tampered_body_is_400_and_changes_nothing() {
    let app = spawn_with_webhooks().await;
    app.with_quotes(&["user_a", "user_b"]).await;
    let mut delivery = Delivery::event("msg_1", &user_deleted("user_a"));
    delivery.body = user_deleted("user_b").to_string().into_bytes();

    let response = app.deliver(&delivery).await;

    assert_rejected(response, &delivery).await;
    assert_eq!(app.stored_users().await, ["user_a", "user_b"]);
}

#[tokio::test]
async fn a_delivery_signed_with_another_secret_is_400() {
    let app = spawn_with_webhooks().await;
    app.with_quotes(&["user_a"]).await;
    let body = user_deleted("user_a").to_string();
    let delivery = Delivery::signed(OTHER_SECRET, "msg_1", body.as_bytes());

    let response = app.deliver(&delivery).await;

    assert_rejected(response, &delivery).await;
    assert_eq!(app.quote_status("user_a").await, 200);
}

#[tokio::test]
async fn stale_and_future_timestamps_are_400() {
    let app = spawn_with_webhooks().await;
    app.with_quotes(&["user_a"]).await;
    let body = user_deleted("user_a").to_string();

    for sent_at in [now() - 6 * 60, now() + 6 * 60] {
        let delivery = Delivery::signed_at(SECRET, "msg_1", sent_at, body.as_bytes());
        let problem = assert_rejected(app.deliver(&delivery).await, &delivery).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("svix-timestamp"),
            "{problem}"
        );
    }
    assert_eq!(app.stored_users().await, ["user_a"]);
}

#[tokio::test]
async fn one_valid_signature_among_several_is_enough() {
    let app = spawn_with_webhooks().await;
    app.with_quotes(&["user_a"]).await;
    let mut delivery = Delivery::event("msg_1", &user_deleted("user_a"));
    let wrong = sign(
        OTHER_SECRET,
        &delivery.id,
        &delivery.timestamp,
        &delivery.body,
    );
    delivery.signature = format!("v1,{wrong} v1,bm90LWEtc2lnbmF0dXJl {}", delivery.signature);

    let response = app.deliver(&delivery).await;

    assert_eq!(response.status(), 204);
    assert!(app.stored_users().await.is_empty());
}

#[tokio::test]
async fn signatures_of_other_versions_only_are_400() {
    let app = spawn_with_webhooks().await;
    app.with_quotes(&["user_a"]).await;
    let mut delivery = Delivery::event("msg_1", &user_deleted("user_a"));
    // The right bytes, under a version we do not know.
    delivery.signature = delivery.signature.replacen("v1,", "v2,", 1);

    let problem = assert_rejected(app.deliver(&delivery).await, &delivery).await;

    assert!(
        problem["detail"].as_str().unwrap().contains("no v1"),
        "{problem}"
    );
    assert_eq!(app.stored_users().await, ["user_a"]);
}

#[tokio::test]
async fn each_missing_header_is_400() {
    let app = spawn_with_webhooks().await;
    app.with_quotes(&["user_a"]).await;
    let delivery = Delivery::event("msg_1", &user_deleted("user_a"));
    let headers = [
        ("svix-id", &delivery.id),
        ("svix-timestamp", &delivery.timestamp),
        ("svix-signature", &delivery.signature),
    ];

    for missing in ["svix-id", "svix-timestamp", "svix-signature"] {
        let mut request = app
            .client
            .post(app.url("/webhooks/clerk"))
            .header("content-type", "application/json")
            .body(delivery.body.clone());
        for (name, value) in headers {
            if name != missing {
                request = request.header(name, value.as_str());
            }
        }
        let response = request.send().await.unwrap();
        let problem = assert_rejected(response, &delivery).await;
        assert!(
            problem["detail"].as_str().unwrap().contains(missing),
            "{missing}: {problem}"
        );
    }
    assert_eq!(app.stored_users().await, ["user_a"]);
}

#[tokio::test]
async fn a_signed_body_that_is_not_a_json_event_is_400() {
    let app = spawn_with_webhooks().await;
    for (index, body) in [
        &b"user.deleted user_a"[..],
        br#"["user.deleted"]"#,
        br#"{"data": {"id": "user_a"}}"#,
        br#"{"type": "user.deleted", "data": {}}"#,
    ]
    .into_iter()
    .enumerate()
    {
        let delivery = Delivery::signed(SECRET, &format!("msg_{index}"), body);
        assert_rejected(app.deliver(&delivery).await, &delivery).await;
    }
}

#[tokio::test]
async fn other_event_types_are_acknowledged_and_ignored() {
    let app = spawn_with_webhooks().await;
    app.with_quotes(&["user_a"]).await;

    for (index, kind) in ["user.created", "user.updated", "session.ended"]
        .into_iter()
        .enumerate()
    {
        let event = json!({
            "data": { "id": "user_a", "object": "user" },
            "object": "event",
            "type": kind,
        });
        let response = app
            .deliver(&Delivery::event(&format!("msg_{index}"), &event))
            .await;
        assert_eq!(response.status(), 204, "{kind}");
    }
    assert_eq!(app.quote_status("user_a").await, 200);
    assert_eq!(app.stored_users().await, ["user_a"]);
}

#[tokio::test]
async fn bodies_over_the_api_limit_but_under_256_kib_are_accepted() {
    let app = spawn_with_webhooks().await;
    let event = json!({
        "data": { "id": "user_a", "bio": "x".repeat(100 * 1024) },
        "type": "user.updated",
    });

    let response = app.deliver(&Delivery::event("msg_1", &event)).await;

    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn a_body_over_256_kib_is_413_problem() {
    let app = spawn_with_webhooks().await;
    let event = json!({
        "data": { "id": "user_a", "bio": "x".repeat(300 * 1024) },
        "type": "user.updated",
    });

    let response = app.deliver(&Delivery::event("msg_1", &event)).await;

    assert_problem(response, 413).await;
}

#[tokio::test]
async fn a_database_outage_is_503_so_the_sender_retries() {
    let proxy = FlakyProxy::to_database().await;
    let app = spawn_app_with(Setup {
        configure: Box::new(|config, _| {
            config.clerk_webhook_secret = Some(SigningSecret::parse(SECRET).unwrap());
        }),
        database_url: Some(proxy.database_url()),
        ..Setup::default()
    })
    .await;
    app.with_quotes(&["user_gone"]).await;
    let delivery = Delivery::event("msg_1", &user_deleted("user_gone"));

    proxy.cut();
    let problem = assert_problem(app.deliver(&delivery).await, 503).await;
    assert_eq!(problem["type"], "urn:quotes:problem:unavailable");

    proxy.restore();
    assert!(
        app.wait_for_status("/readyz", 200, std::time::Duration::from_secs(10))
            .await
    );
    assert_eq!(app.deliver(&delivery).await.status(), 204);
    assert!(app.stored_users().await.is_empty());
}

#[tokio::test]
async fn without_a_secret_the_endpoint_is_an_unknown_path() {
    let app = spawn_app().await;
    app.with_quotes(&["user_a"]).await;
    let delivery = Delivery::event("msg_1", &user_deleted("user_a"));

    let response = app.deliver(&delivery).await;

    let problem = assert_problem(response, 404).await;
    assert_eq!(problem["type"], "about:blank");
    assert_eq!(app.stored_users().await, ["user_a"]);
}

#[tokio::test]
async fn other_methods_are_405_with_allow_post() {
    let app = spawn_with_webhooks().await;

    let response = app
        .client
        .get(app.url("/webhooks/clerk"))
        .send()
        .await
        .unwrap();

    assert_eq!(
        response.headers().get("allow").unwrap().to_str().unwrap(),
        "POST"
    );
    assert_problem(response, 405).await;
}

#[tokio::test]
async fn a_signature_flood_is_refused_at_once_and_the_worker_stays_free() {
    // One worker, as in the report: a flood that took it for seconds kept
    // `/healthz` waiting behind it.
    let app = spawn_with_webhooks().await;
    let mut flood = Delivery::event("msg_flood", &user_deleted("user_flood"));
    flood.body.resize(240 * 1024, b' ');
    flood.signature = vec!["v1,AAAA"; 12_000].join(" ");
    let floods = (0..4).map(|_| app.deliver(&flood));
    let health = app
        .client
        .get(app.url("/healthz"))
        .timeout(std::time::Duration::from_secs(10))
        .send();
    let (refused, health) = tokio::join!(futures_util::future::join_all(floods), health);
    assert_eq!(health.unwrap().status(), 200);
    for response in refused {
        let problem = assert_problem(response, 400).await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("svix-signature"), "{detail}");
        assert!(detail.contains("16 signatures"), "{detail}");
    }

    // A real delivery listing the most signatures allowed still counts.
    let mut rotated = Delivery::event("msg_rotated", &user_deleted("user_rotated"));
    rotated.signature = format!("{} {}", vec!["v1,AAAA"; 15].join(" "), rotated.signature);
    assert_eq!(app.deliver(&rotated).await.status(), 204);
}

#[tokio::test]
async fn a_user_id_with_control_characters_is_refused_before_the_database() {
    let app = spawn_with_webhooks().await;
    let response = app
        .deliver(&Delivery::event("msg_nul", &user_deleted("user_\u{0}x")))
        .await;
    let problem = assert_problem(response, 400).await;
    assert_eq!(problem["type"], "urn:quotes:problem:invalid-webhook");
}
