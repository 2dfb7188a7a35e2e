//! Nobody signed in: what this is, and the way in.

use yew::prelude::*;

use crate::auth::use_auth;
use crate::components::Alert;

#[derive(Debug, Properties, PartialEq)]
pub struct SignedOutProps {
    pub notice: Option<String>,
}

#[function_component]
pub fn SignedOutPage(props: &SignedOutProps) -> Html {
    let auth = use_auth();
    let onclick = auth.sign_in.reform(|_: MouseEvent| ());
    html! {
        <section class="card">
            <h1>{ "Keep your favourite quote" }</h1>
            <p class="lead">
                { "Sign in and keep one quote that matters to you. Only you can read it, change it or delete it." }
            </p>
            <Alert message={props.notice.clone()} />
            <button class="primary" {onclick}>{ "Sign in" }</button>
        </section>
    }
}
