//! The signed-in page against answers the test chooses: the quote or the
//! empty state, the API's problem documents turned into what people read,
//! a token the API refuses as expired renewed and the request made once
//! more, at most once, and unsaved text kept across page loads.

use std::rc::Rc;

use quotes_web::auth::oidc_tokens::{OidcTokens, TokenEndpoint, now_ms};
use quotes_web::auth::{Auth, AuthStatus, Session, TokenSource};
use quotes_web::pages::QuotePage;
use wasm_bindgen_test::wasm_bindgen_test;
use yew::prelude::*;

use crate::support::{
    Calls, FakeFetch, auth, mount, mount_as_is, oidc_config, press, session_storage, type_into,
};

const API: &str = "https://api.example.test";
const PROBLEM: &str = "application/problem+json";
const NOT_FOUND: &str = r#"{"type": "urn:quotes:problem:no-quote", "title": "Not Found",
    "status": 404, "detail": "You have no quote yet."}"#;
const EXPIRED: &str = r#"{"type": "urn:quotes:problem:expired-token", "title": "Unauthorized",
    "status": 401, "detail": "The token has expired."}"#;
const QUOTE: &str = r#"{"quote": "Simplicity is prerequisite for reliability.",
    "created_at": "2026-11-26T08:00:00Z", "updated_at": "2026-11-26T09:30:00Z"}"#;
/// The provider's token endpoint, as the fake `fetch` records it.
const RENEWAL: &str =
    "POST /token  grant_type=refresh_token&refresh_token=refresh-1&client_id=quotes-web";

#[derive(Debug, PartialEq, Properties)]
struct HarnessProps {
    auth: Auth,
    session: Rc<Session>,
}

#[function_component]
fn Harness(props: &HarnessProps) -> Html {
    html! {
        <ContextProvider<Auth> context={props.auth.clone()}>
            <QuotePage session={props.session.clone()} />
        </ContextProvider<Auth>>
    }
}

fn signed_in(expired: &Calls) -> HarnessProps {
    signed_in_with(expired, OidcTokens::fixed("token-of-ada"))
}

/// Signed in with an access token `first` and the refresh token
/// `refresh-1`, renewed at the provider's `/token`.
fn renewable(expired: &Calls) -> HarnessProps {
    let tokens = serde_json::from_str(
        r#"{"access_token": "first", "refresh_token": "refresh-1", "expires_in": 3600}"#,
    )
    .expect("a token response");
    let endpoint = TokenEndpoint {
        url: "https://id.example.test/token".to_owned(),
        client_id: "quotes-web".to_owned(),
    };
    signed_in_with(expired, OidcTokens::new(endpoint, "ada", tokens, now_ms()))
}

fn signed_in_with(expired: &Calls, tokens: OidcTokens) -> HarnessProps {
    let session = Rc::new(Session {
        name: "Ada".to_owned(),
        user_id: "ada".to_owned(),
        token_source: TokenSource::Oidc(tokens),
        id_token: None,
    });
    HarnessProps {
        auth: Auth {
            config: oidc_config(API),
            on_token_refused: expired.callback(),
            ..auth(AuthStatus::SignedIn(session.clone()))
        },
        session,
    }
}

#[wasm_bindgen_test]
async fn a_stored_quote_is_shown_and_ready_to_edit() {
    let fetch = FakeFetch::new(&[("GET /me/quote", 200, "application/json", QUOTE)]);
    let page = mount::<Harness>(signed_in(&Calls::default())).await;
    page.until("the quote", |page| page.find("#current-quote").is_some())
        .await;

    assert_eq!(
        page.text("#current-quote"),
        "Simplicity is prerequisite for reliability."
    );
    assert_eq!(
        page.textarea().value(),
        "Simplicity is prerequisite for reliability."
    );
    assert_eq!(page.text("#quote-count"), "43 / 1000");
    assert!(page.text("figcaption").starts_with("Saved "));
    page.button("Delete quote");
    assert_eq!(
        fetch.requests(),
        ["GET /me/quote Bearer token-of-ada"],
        "one request, with the session's token"
    );
}

#[wasm_bindgen_test]
async fn a_refused_quote_shows_the_apis_reason() {
    let invalid = r#"{"type": "urn:quotes:problem:invalid-quote", "title": "Invalid quote",
        "status": 422, "detail": "The quote has 1001 characters; at most 1000 are allowed."}"#;
    let fetch = FakeFetch::new(&[
        ("GET /me/quote", 404, PROBLEM, NOT_FOUND),
        ("PUT /me/quote", 422, PROBLEM, invalid),
    ]);
    let page = mount::<Harness>(signed_in(&Calls::default())).await;
    page.until("the empty state", |page| {
        page.find("#empty-state").is_some()
    })
    .await;
    assert!(page.find("[role=alert]").is_none(), "no quote is no error");
    assert!(page.find("#current-quote").is_none());

    type_into(&page.textarea(), "Too long, says the server.").await;
    assert!(press(&page.textarea(), "Enter", false).await);
    page.until("the alert", |page| page.find("[role=alert]").is_some())
        .await;

    assert_eq!(
        page.text("[role=alert]"),
        "The quote has 1001 characters; at most 1000 are allowed."
    );
    assert_eq!(
        page.textarea().value(),
        "Too long, says the server.",
        "the draft is kept"
    );
    assert!(!page.button("Save quote").has_attribute("disabled"));
    assert_eq!(
        fetch.requests().last().map(String::as_str),
        Some("PUT /me/quote Bearer token-of-ada")
    );
    // The refusal is the field's: it describes it and marks it invalid...
    let textarea = page.textarea();
    let described_by = textarea
        .get_attribute("aria-describedby")
        .unwrap_or_default();
    let alert_id = page.get("[role=alert]").id();
    assert!(
        described_by.split(' ').any(|id| id == alert_id),
        "{described_by} does not name {alert_id}"
    );
    assert_eq!(
        textarea.get_attribute("aria-invalid").as_deref(),
        Some("true")
    );
    // ...until the text changes.
    type_into(&page.textarea(), "Shorter.").await;
    assert!(
        page.find("[role=alert]").is_none(),
        "the alert outlived its cause"
    );
    assert_eq!(
        page.textarea().get_attribute("aria-invalid").as_deref(),
        Some("false")
    );
}

#[wasm_bindgen_test]
async fn an_error_without_a_reason_still_says_what_happened() {
    let broken = r#"{"type": "about:blank", "title": "Internal Server Error", "status": 500}"#;
    let _fetch = FakeFetch::new(&[("GET /me/quote", 500, PROBLEM, broken)]);
    let page = mount::<Harness>(signed_in(&Calls::default())).await;
    page.until("the alert", |page| page.find("[role=alert]").is_some())
        .await;
    assert_eq!(
        page.text("[role=alert]"),
        "The quotes API answered 500 Internal Server Error without saying why."
    );
}

#[wasm_bindgen_test]
async fn a_refused_token_signs_out_instead_of_showing_an_error() {
    let unauthorized = r#"{"type": "about:blank", "title": "Unauthorized", "status": 401,
        "detail": "The token has expired."}"#;
    let _fetch = FakeFetch::new(&[("GET /me/quote", 401, PROBLEM, unauthorized)]);
    let expired = Calls::default();
    let page = mount::<Harness>(signed_in(&expired)).await;
    page.until("the sign-out", |_| expired.count() > 0).await;
    assert_eq!(expired.count(), 1);
    assert!(page.find("[role=alert]").is_none());
}

#[wasm_bindgen_test]
async fn an_expired_token_is_renewed_and_the_request_made_once_more() {
    let fetch = FakeFetch::new(&[
        ("GET /me/quote", 401, PROBLEM, EXPIRED),
        ("GET /me/quote", 200, "application/json", QUOTE),
        (
            "POST /token",
            200,
            "application/json",
            r#"{"access_token": "second", "refresh_token": "refresh-2", "expires_in": 3600}"#,
        ),
    ]);
    let expired = Calls::default();
    let page = mount::<Harness>(renewable(&expired)).await;
    page.until("the quote", |page| page.find("#current-quote").is_some())
        .await;
    assert_eq!(
        fetch.requests(),
        [
            "GET /me/quote Bearer first",
            RENEWAL,
            "GET /me/quote Bearer second"
        ]
    );
    assert_eq!(expired.count(), 0, "no sign-out");
    assert!(page.find("[role=alert]").is_none());
}

#[wasm_bindgen_test]
async fn a_token_refused_again_after_renewal_signs_out_once() {
    let fetch = FakeFetch::new(&[
        ("GET /me/quote", 401, PROBLEM, EXPIRED),
        (
            "POST /token",
            200,
            "application/json",
            r#"{"access_token": "second", "expires_in": 3600}"#,
        ),
    ]);
    let expired = Calls::default();
    let page = mount::<Harness>(renewable(&expired)).await;
    page.until("the sign-out", |_| expired.count() > 0).await;
    assert_eq!(
        fetch.requests(),
        [
            "GET /me/quote Bearer first",
            RENEWAL,
            "GET /me/quote Bearer second"
        ],
        "one renewal, one more try, then no more"
    );
    assert_eq!(expired.count(), 1);
}

#[wasm_bindgen_test]
async fn a_refused_renewal_signs_out() {
    let fetch = FakeFetch::new(&[
        ("GET /me/quote", 401, PROBLEM, EXPIRED),
        (
            "POST /token",
            400,
            "application/json",
            r#"{"error": "invalid_grant"}"#,
        ),
    ]);
    let expired = Calls::default();
    let page = mount::<Harness>(renewable(&expired)).await;
    page.until("the sign-out", |_| expired.count() > 0).await;
    assert_eq!(fetch.requests(), ["GET /me/quote Bearer first", RENEWAL]);
    assert_eq!(expired.count(), 1);
    assert!(page.find("[role=alert]").is_none());
}

#[wasm_bindgen_test]
async fn typed_text_is_kept_until_it_is_saved() {
    let saved = r#"{"quote": "Typed, then kept.",
        "created_at": "2026-11-26T08:00:00Z", "updated_at": "2026-11-26T10:00:00Z"}"#;
    let _fetch = FakeFetch::new(&[
        ("GET /me/quote", 200, "application/json", QUOTE),
        ("PUT /me/quote", 200, "application/json", saved),
    ]);
    let page = mount::<Harness>(signed_in(&Calls::default())).await;
    page.until("the quote", |page| page.find("#current-quote").is_some())
        .await;
    type_into(&page.textarea(), "Typed, then kept.").await;
    let kept = session_storage()
        .get_item("quotes.draft")
        .expect("readable")
        .unwrap_or_default();
    assert!(kept.contains("Typed, then kept."), "{kept}");
    assert!(
        !kept.contains("token"),
        "no token next to the draft: {kept}"
    );
    drop(page);

    // The next page load (after signing in again) shows it in the editor,
    // and the stored quote where it was.
    let page = mount_as_is::<Harness>(signed_in(&Calls::default())).await;
    page.until("the quote", |page| page.find("#current-quote").is_some())
        .await;
    assert_eq!(page.textarea().value(), "Typed, then kept.");
    assert_eq!(
        page.text("#current-quote"),
        "Simplicity is prerequisite for reliability."
    );

    // Saved: nothing is kept any more.
    assert!(press(&page.textarea(), "Enter", false).await);
    page.until("the saved quote", |page| {
        page.text("#current-quote") == "Typed, then kept."
    })
    .await;
    assert_eq!(
        session_storage()
            .get_item("quotes.draft")
            .expect("readable"),
        None
    );
}

#[wasm_bindgen_test]
async fn someone_elses_draft_is_not_shown() {
    session_storage()
        .set_item(
            "quotes.draft",
            r#"{"user": "grace", "text": "Grace's unsaved words"}"#,
        )
        .expect("stored");
    let _fetch = FakeFetch::new(&[("GET /me/quote", 200, "application/json", QUOTE)]);
    let page = mount_as_is::<Harness>(signed_in(&Calls::default())).await;
    page.until("the quote", |page| page.find("#current-quote").is_some())
        .await;
    assert_eq!(
        page.textarea().value(),
        "Simplicity is prerequisite for reliability."
    );
}
