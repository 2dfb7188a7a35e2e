//! Third-party access: each operation's scope, the `403` that says which
//! is missing, the metadata that says how to ask, and the token kinds a
//! deployment accepts.

use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};

use crate::helpers::{Setup, TestApp, assert_problem, spawn_app, spawn_app_with};
use quotes_core::auth::{Scope, TokenKind};

/// A token for `user` with the claims the test idp gives, changed by `edit`.
fn token_with(app: &TestApp, user: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut claims = app.idp.claims(user);
    claims.as_object_mut().unwrap().remove("scope");
    edit(&mut claims);
    app.key.sign(&claims)
}

/// An RFC 9068 access token (`typ: at+jwt`) with `claims` added.
fn access_token(app: &TestApp, user: &str, extra: &Value) -> String {
    let mut claims = app.idp.claims(user);
    let object = claims.as_object_mut().unwrap();
    object.remove("scope");
    object.remove("azp");
    for (name, value) in extra.as_object().unwrap() {
        object.insert(name.clone(), value.clone());
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(app.key.kid.clone());
    header.typ = Some("at+jwt".to_owned());
    app.key.sign_with_header(&header, &claims)
}

/// The statuses of GET, HEAD, PUT and DELETE `/me/quote` with `token`, on
/// a fresh user with a quote saved (by a token with every scope).
async fn statuses(app: &TestApp, user: &str, token: &str) -> [u16; 4] {
    statuses_seeded(app, &app.token(user), token).await
}

/// As [`statuses`], the quote saved with `seed`.
async fn statuses_seeded(app: &TestApp, seed: &str, token: &str) -> [u16; 4] {
    assert_eq!(app.put_quote(seed, "Seed.").await.status(), 201);
    let head = app
        .client
        .head(app.url("/me/quote"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    let get = app.get_quote(token).await.status().as_u16();
    let put = app.put_quote(token, "Changed.").await.status().as_u16();
    let delete = app.delete_quote(token).await.status().as_u16();
    [get, head, put, delete]
}

/// GET, HEAD, PUT, DELETE with a token of each grant.
const READ: [u16; 4] = [200, 200, 403, 403];
const WRITE: [u16; 4] = [403, 403, 200, 204];
const BOTH: [u16; 4] = [200, 200, 200, 204];
const NONE: [u16; 4] = [403, 403, 403, 403];

#[tokio::test]
async fn each_operation_needs_its_scope_in_every_spelling() {
    let app = spawn_app().await;
    let cases: [(&str, Value, [u16; 4]); 12] = [
        ("scope-read", json!({"scope": "openid quotes:read"}), READ),
        ("scope-write", json!({"scope": "quotes:write"}), WRITE),
        (
            "scope-both",
            json!({"scope": "quotes:read quotes:write"}),
            BOTH,
        ),
        ("scope-none", json!({"scope": "openid profile"}), NONE),
        ("scp-string", json!({"scp": "quotes:read"}), READ),
        ("scp-array-write", json!({"scp": ["quotes:write"]}), WRITE),
        (
            "scp-array-both",
            json!({"scp": ["quotes:read", "quotes:write"]}),
            BOTH,
        ),
        (
            "permissions-read",
            json!({"permissions": ["quotes:read"]}),
            READ,
        ),
        (
            "permissions-write",
            json!({"permissions": ["quotes:write"]}),
            WRITE,
        ),
        (
            "roles-both",
            json!({"roles": ["quotes:read", "quotes:write"]}),
            BOTH,
        ),
        ("nothing", json!({}), NONE),
        ("unknown", json!({"scope": "quotes:admin quotes"}), NONE),
    ];
    for (user, extra, expected) in cases {
        let token = token_with(&app, user, |claims| {
            for (name, value) in extra.as_object().unwrap() {
                claims[name] = value.clone();
            }
        });
        assert_eq!(
            statuses(&app, user, &token).await,
            expected,
            "{user}: {extra}"
        );
    }
}

#[tokio::test]
async fn a_missing_scope_is_named_in_the_challenge_and_the_problem() {
    let app = spawn_app().await;
    let read_only = token_with(&app, "reader", |claims| {
        claims["scope"] = json!("quotes:read");
    });
    let response = app.put_quote(&read_only, "No.").await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        challenge,
        format!(
            "Bearer realm=\"quotes\", error=\"insufficient_scope\", scope=\"quotes:write\", \
             resource_metadata=\"{}/.well-known/oauth-protected-resource\"",
            app.address
        )
    );
    let problem = assert_problem(response, 403).await;
    assert_eq!(
        problem,
        json!({
            "type": "urn:quotes:problem:insufficient-scope",
            "title": "Forbidden",
            "status": 403,
            "detail": "The token lacks the scope this operation needs: quotes:write. \
                       Ask for it when getting the next token.",
            "missing_scopes": ["quotes:write"],
        })
    );
    // Nothing was written.
    assert_eq!(app.get_quote(&read_only).await.status(), 404);
}

#[tokio::test]
async fn every_401_names_where_to_learn_how_to_get_a_token() {
    let app = spawn_app().await;
    let metadata = format!(
        "resource_metadata=\"{}/.well-known/oauth-protected-resource\"",
        app.address
    );
    let missing = app.client.get(app.url("/me/quote")).send().await.unwrap();
    let invalid = app.get_quote("not-a-token").await;
    let expired = app
        .get_quote(&token_with(&app, "late", |claims| {
            claims["exp"] = json!(1);
        }))
        .await;
    for response in [missing, invalid, expired] {
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.ends_with(&metadata), "{challenge}");
        assert_eq!(response.status(), 401);
    }
}

#[tokio::test]
async fn the_metadata_says_which_server_which_scopes_and_how() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/.well-known/oauth-protected-resource"))
        .header("origin", "https://partner.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    // Made from the request's own address: no shared cache may keep it.
    assert_eq!(response.headers()["cache-control"], "private, max-age=3600");
    let document: Value = response.json().await.unwrap();
    assert_eq!(
        document,
        json!({
            "resource": app.address,
            "authorization_servers": [app.idp.issuer],
            "scopes_supported": ["quotes:read", "quotes:write"],
            "bearer_methods_supported": ["header"],
            "resource_name": "quotes API",
            "resource_documentation": format!("{}/docs/", app.address),
        })
    );

    let configured = spawn_app_with(Setup {
        configure: Box::new(|config, _| {
            config.auth.resource = Some("https://api.example.com".to_owned());
        }),
        ..Setup::default()
    })
    .await;
    let response = configured
        .client
        .get(configured.url("/.well-known/oauth-protected-resource"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "public, max-age=3600");
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["resource"], "https://api.example.com");
    assert_eq!(
        document["resource_documentation"],
        "https://api.example.com/docs/"
    );
    let refused = configured.get_quote("x").await;
    assert!(
        refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .ends_with(
                "resource_metadata=\"https://api.example.com/.well-known/oauth-protected-resource\""
            )
    );
}

#[tokio::test]
async fn a_token_with_no_user_is_refused_on_me_with_a_reason() {
    let app = spawn_app().await;
    // Client credentials (RFC 9068 §2.2): the client is its own subject.
    let machine = access_token(
        &app,
        "svc-reporting",
        &json!({"client_id": "svc-reporting", "scope": "quotes:read"}),
    );
    let response = app.get_quote(&machine).await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with(
            "Bearer realm=\"quotes\", error=\"insufficient_scope\", \
             error_description=\"a user's token is needed\", scope=\"quotes:read\""
        ),
        "{challenge}"
    );
    let problem = assert_problem(response, 403).await;
    assert_eq!(problem["type"], "urn:quotes:problem:no-user");
    assert!(
        problem["detail"].as_str().unwrap().contains("m2m_token"),
        "{problem}"
    );
    // Auth0 marks its client-credentials tokens with `gty`.
    let auth0 = token_with(&app, "abc@clients", |claims| {
        claims["gty"] = json!("client-credentials");
        claims["scope"] = json!("quotes:read");
    });
    let problem = assert_problem(app.get_quote(&auth0).await, 403).await;
    assert_eq!(problem["type"], "urn:quotes:problem:no-user");
}

#[tokio::test]
async fn a_providers_scope_names_are_mapped_onto_ours() {
    let app = spawn_app_with(Setup {
        configure: Box::new(|config, _| {
            config.auth.scope_map = vec![
                ("api://quotes/Quotes.Read".to_owned(), Scope::QuotesRead),
                ("Quotes.Write".to_owned(), Scope::QuotesWrite),
            ];
        }),
        ..Setup::default()
    })
    .await;
    // Entra: delegated scopes in `scp`, application roles in `roles`.
    let delegated = token_with(&app, "entra-user", |claims| {
        claims["scp"] = json!("api://quotes/Quotes.Read");
    });
    assert_eq!(
        statuses(&app, "entra-user", &delegated).await,
        [200, 200, 403, 403]
    );
    let roles = token_with(&app, "entra-roles", |claims| {
        claims["roles"] = json!(["Quotes.Write"]);
    });
    assert_eq!(
        statuses(&app, "entra-roles", &roles).await,
        [403, 403, 200, 204]
    );
}

#[tokio::test]
async fn claims_of_the_wrong_shape_deny_and_change_nothing() {
    let app = spawn_app().await;
    let full = app.token("shape");
    assert_eq!(app.put_quote(&full, "Kept.").await.status(), 201);
    for (claim, value) in [
        ("scope", json!(["quotes:read", "quotes:write"])),
        ("scp", json!(7)),
        ("permissions", json!("quotes:write")),
        ("act", json!("admin")),
        ("o", json!({"rol": "admin"})),
        ("fva", json!([1])),
        ("client_id", json!(12)),
    ] {
        let token = token_with(&app, "shape", |claims| {
            claims["scope"] = json!("quotes:read quotes:write");
            claims[claim] = value.clone();
        });
        let problem = assert_problem(app.delete_quote(&token).await, 401).await;
        assert_eq!(problem["type"], "urn:quotes:problem:invalid-token");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("`{claim}")),
            "{claim}: {problem}"
        );
    }
    let kept: Value = app.get_quote(&full).await.json().await.unwrap();
    assert_eq!(kept["quote"], "Kept.");
}

#[tokio::test]
async fn the_cache_never_lends_one_tokens_grant_to_another() {
    let app = spawn_app().await;
    let reader = token_with(&app, "cached", |claims| {
        claims["scope"] = json!("quotes:read");
    });
    let writer = token_with(&app, "cached", |claims| {
        claims["scope"] = json!("quotes:write");
        claims["jti"] = json!("other");
    });
    assert_eq!(app.put_quote(&writer, "Mine.").await.status(), 201);
    for _ in 0..3 {
        assert_eq!(app.put_quote(&writer, "Mine.").await.status(), 200);
        assert_eq!(app.get_quote(&reader).await.status(), 200);
        assert_eq!(app.put_quote(&reader, "No.").await.status(), 403);
        assert_eq!(app.get_quote(&writer).await.status(), 403);
    }
}

#[tokio::test]
async fn unscoped_tokens_grant_nothing_unless_a_migration_says_so() {
    let unscoped = |app: &TestApp| token_with(app, "old-client", |_| {});
    let app = spawn_app().await;
    let problem = assert_problem(app.get_quote(&unscoped(&app)).await, 403).await;
    assert_eq!(problem["missing_scopes"], json!(["quotes:read"]));

    let migrating = spawn_app_with(Setup {
        configure: Box::new(|config, _| config.auth.unscoped_tokens_grant_all = true),
        ..Setup::default()
    })
    .await;
    assert_eq!(
        statuses(&migrating, "old-client", &unscoped(&migrating)).await,
        [200, 200, 200, 204]
    );
}

#[tokio::test]
async fn token_kinds_are_accepted_by_choice() {
    let only_users = spawn_app_with(Setup {
        configure: Box::new(|config, _| {
            config.auth.accepted_tokens = Some([TokenKind::OAuth].into_iter().collect());
        }),
        ..Setup::default()
    })
    .await;
    let machine = access_token(
        &only_users,
        "svc",
        &json!({"client_id": "svc", "scope": "quotes:read"}),
    );
    let problem = assert_problem(only_users.get_quote(&machine).await, 401).await;
    assert_eq!(
        problem["detail"],
        "The token is of a kind this API does not accept."
    );
    let user = access_token(
        &only_users,
        "person",
        &json!({"client_id": "cli", "scope": "quotes:read"}),
    );
    assert_eq!(only_users.get_quote(&user).await.status(), 404);

    let only_machines = spawn_app_with(Setup {
        configure: Box::new(|config, _| {
            config.auth.accepted_tokens = Some([TokenKind::Machine].into_iter().collect());
        }),
        ..Setup::default()
    })
    .await;
    let user = access_token(
        &only_machines,
        "person",
        &json!({"client_id": "cli", "scope": "quotes:read"}),
    );
    assert_eq!(only_machines.get_quote(&user).await.status(), 401);
}

#[tokio::test]
async fn access_tokens_bound_to_a_resource_must_name_this_one() {
    let app = spawn_app_with(Setup {
        configure: Box::new(|config, idp| {
            config.auth.resource = Some("https://api.example.com".to_owned());
            config.auth.client_ids = vec!["cli".to_owned()];
            let _ = idp;
        }),
        ..Setup::default()
    })
    .await;
    let with = |user: &str, extra: Value| access_token(&app, user, &extra);
    let bound = with(
        "bound",
        json!({"client_id": "cli", "scope": "quotes:read", "aud": "https://api.example.com", "jti": "a"}),
    );
    assert_eq!(app.get_quote(&bound).await.status(), 404);
    let unbound = with(
        "unbound",
        json!({"client_id": "cli", "scope": "quotes:read"}),
    );
    assert_eq!(app.get_quote(&unbound).await.status(), 404);
    let elsewhere = with(
        "elsewhere",
        json!({"client_id": "cli", "scope": "quotes:read", "aud": ["https://other.example.com"]}),
    );
    let problem = assert_problem(app.get_quote(&elsewhere).await, 401).await;
    assert_eq!(
        problem["detail"],
        "The token is not meant for this API (aud)."
    );
    let other_client = with(
        "other",
        json!({"client_id": "stranger", "scope": "quotes:read"}),
    );
    let problem = assert_problem(app.get_quote(&other_client).await, 401).await;
    assert_eq!(
        problem["detail"],
        "The token was issued to a client this API does not accept (client_id)."
    );
    let nameless = with("nameless", json!({"scope": "quotes:read"}));
    let problem = assert_problem(app.get_quote(&nameless).await, 401).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("client_id"),
        "{problem}"
    );
}

#[tokio::test]
async fn cognito_access_tokens_pass_by_their_client_and_id_tokens_do_not() {
    let app = spawn_app_with(Setup {
        configure: Box::new(|config, _| {
            config.auth.client_ids = vec!["4cognitoapp".to_owned()];
        }),
        ..Setup::default()
    })
    .await;
    // As Cognito issues them: `client_id`, `token_use`, `scope`, no `aud`.
    let cognito = |user: &str, edit: &dyn Fn(&mut Value)| {
        token_with(&app, user, |claims| {
            let object = claims.as_object_mut().unwrap();
            object.remove("azp");
            object.remove("sid");
            claims["client_id"] = json!("4cognitoapp");
            claims["token_use"] = json!("access");
            claims["username"] = json!(user);
            claims["scope"] = json!("quotes:read quotes:write");
            edit(claims);
        })
    };
    let access = cognito("c-user", &|_| {});
    assert_eq!(
        statuses_seeded(&app, &access, &access).await,
        [200, 200, 200, 204]
    );
    let other_app = cognito("c-other", &|claims| claims["client_id"] = json!("another"));
    assert_eq!(app.get_quote(&other_app).await.status(), 401);
    let id_token = cognito("c-id", &|claims| {
        claims["token_use"] = json!("id");
        claims["aud"] = json!("4cognitoapp");
    });
    let problem = assert_problem(app.get_quote(&id_token).await, 401).await;
    assert_eq!(
        problem["detail"],
        "The token is of a kind this API does not accept."
    );
}
