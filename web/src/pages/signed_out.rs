//! Nobody signed in: what this is, and the way in.

use yew::prelude::*;

use crate::auth::use_auth;
use crate::components::Alert;
use crate::pages::use_title;

#[derive(Debug, Properties, PartialEq)]
pub struct SignedOutProps {
    pub notice: Option<String>,
}

#[function_component]
pub fn SignedOutPage(props: &SignedOutProps) -> Html {
    use_title("Sign in");
    let auth = use_auth();
    let onclick = auth.sign_in.reform(|_: MouseEvent| ());
    let clerk_node = use_node_ref();
    {
        let clerk = auth.clerk.clone();
        let node = clerk_node.clone();
        use_effect_with(clerk.is_some(), move |_| {
            if let (Some(clerk), Some(node)) = (clerk, node.cast::<web_sys::Element>()) {
                clerk.mount_sign_in_into(&node);
            }
        });
    }
    let way_in = if auth.clerk.is_some() {
        html! { <div class="clerk-sign-in" ref={clerk_node}></div> }
    } else {
        html! { <button class="primary" {onclick}>{ "Sign in" }</button> }
    };
    html! {
        <section class="card">
            <h1>{ "Keep your favourite quote" }</h1>
            <p class="lead">
                { "Sign in and keep one quote that matters to you. Only you can read it, change it or delete it." }
            </p>
            <Alert message={props.notice.clone()} />
            { way_in }
        </section>
    }
}
