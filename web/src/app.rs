//! The root: loads `config.json`, then shows the screen that fits who is
//! signed in.

use std::rc::Rc;

use yew::platform::spawn_local;
use yew::prelude::*;

use crate::auth::{AuthProvider, AuthStatus, use_auth};
use crate::config::{self, AppConfig, ConfigError};
use crate::pages::{ConfigErrorPage, QuotePage, SignedOutPage};

#[function_component]
pub fn App() -> Html {
    let config = use_state(|| None::<Result<Rc<AppConfig>, ConfigError>>);
    {
        let config = config.clone();
        use_effect_with((), move |()| {
            spawn_local(async move {
                config.set(Some(config::load().await.map(Rc::new)));
            });
        });
    }
    let body = match &*config {
        None => html! { <p class="muted">{ "Loading…" }</p> },
        Some(Err(ConfigError(message))) => html! { <ConfigErrorPage message={message.clone()} /> },
        Some(Ok(config)) => html! {
            <AuthProvider config={config.clone()}>
                <Home />
            </AuthProvider>
        },
    };
    html! {
        <main class="page">
            <p class="brand">{ "quotes" }</p>
            { body }
        </main>
    }
}

#[function_component]
fn Home() -> Html {
    match use_auth().status {
        AuthStatus::Working => html! { <p class="muted">{ "Signing in…" }</p> },
        AuthStatus::SignedOut { notice } => html! { <SignedOutPage {notice} /> },
        AuthStatus::SignedIn(session) => html! { <QuotePage {session} /> },
    }
}
