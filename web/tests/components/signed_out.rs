//! The signed-out page: what the app is for, why you were signed out, and
//! the way in.

use quotes_web::auth::{Auth, AuthStatus};
use quotes_web::pages::SignedOutPage;
use wasm_bindgen_test::wasm_bindgen_test;
use yew::prelude::*;

use crate::support::{Calls, auth, click, mount};

#[derive(Debug, PartialEq, Properties)]
struct HarnessProps {
    auth: Auth,
    notice: Option<String>,
}

#[function_component]
fn Harness(props: &HarnessProps) -> Html {
    html! {
        <ContextProvider<Auth> context={props.auth.clone()}>
            <SignedOutPage notice={props.notice.clone()} />
        </ContextProvider<Auth>>
    }
}

#[wasm_bindgen_test]
async fn sign_in_asks_the_provider() {
    let sign_ins = Calls::default();
    let context = Auth {
        sign_in: sign_ins.callback(),
        ..auth(AuthStatus::SignedOut { notice: None })
    };
    let page = mount::<Harness>(HarnessProps {
        auth: context,
        notice: None,
    })
    .await;
    assert_eq!(page.text("h1"), "Keep your favourite quote");
    assert!(page.find("[role=alert]").is_none(), "no notice, no alert");

    click(&page.button("Sign in")).await;
    assert_eq!(sign_ins.count(), 1);
}

#[wasm_bindgen_test]
async fn the_reason_for_signing_out_is_shown() {
    let notice = "Your session has ended. Sign in again to continue.";
    let page = mount::<Harness>(HarnessProps {
        auth: auth(AuthStatus::SignedOut { notice: None }),
        notice: Some(notice.to_owned()),
    })
    .await;
    assert_eq!(page.text("[role=alert]"), notice);
    page.button("Sign in");
}
