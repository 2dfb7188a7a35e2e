//! Signed in: who you are, your quote (or an empty state), the editor and
//! the delete confirmation. The requests and the state behind them are
//! [`use_quote`]'s; this page only shows them and wires the buttons.

use std::rc::Rc;

use yew::prelude::*;

use crate::auth::{Session, use_auth};
use crate::components::{Alert, QuoteEditor};
use crate::hooks::{Busy, use_quote};

#[derive(Debug, Properties, PartialEq)]
pub struct QuotePageProps {
    pub session: Rc<Session>,
}

#[function_component]
pub fn QuotePage(props: &QuotePageProps) -> Html {
    let auth = use_auth();
    let quote = use_quote(props.session.clone());
    let user_button = use_node_ref();
    {
        let clerk = auth.clerk.clone();
        let node = user_button.clone();
        use_effect_with((), move |()| {
            if let (Some(clerk), Some(node)) = (clerk, node.cast::<web_sys::Element>()) {
                clerk.mount_user_button_into(&node);
            }
        });
    }

    let click = |callback: &Callback<()>| callback.reform(|_: MouseEvent| ());
    let sign_out = click(&auth.sign_out);
    let busy = quote.busy;

    html! {
        <>
            <header class="bar">
                <p class="who">{ "Signed in as " }<strong>{ &props.session.name }</strong></p>
                <div class="user-button" ref={user_button}></div>
                <button class="quiet" onclick={sign_out}>{ "Sign out" }</button>
            </header>
            <section class="card" aria-busy={(busy == Some(Busy::Loading)).to_string()}>
                <h1>{ "Your quote" }</h1>
                {
                    match (&quote.stored, busy) {
                        (_, Some(Busy::Loading)) => html! { <p class="muted">{ "Loading your quote…" }</p> },
                        (Some(stored), _) => html! {
                            <figure class="quote">
                                <blockquote id="current-quote">{ stored.quote.to_string() }</blockquote>
                                <figcaption class="muted">
                                    { format!("Saved {}", local_time(&stored.updated_at)) }
                                </figcaption>
                            </figure>
                        },
                        (None, _) => html! {
                            <p class="empty" id="empty-state">{ "No quote yet. Write the one you want to keep below." }</p>
                        },
                    }
                }
                <Alert message={quote.error.clone()} />
                <QuoteEditor value={quote.draft.clone()} busy={busy.is_some()}
                    saving={busy == Some(Busy::Saving)} on_input={quote.edit.clone()}
                    on_save={quote.save.clone()} />
                {
                    if quote.stored.is_none() {
                        html! {}
                    } else if quote.confirming_delete {
                        html! {
                            <div class="confirm" role="group" aria-label="Confirm deletion">
                                <p>{ "Delete your quote? This cannot be undone." }</p>
                                <button class="danger" onclick={click(&quote.delete)} disabled={busy.is_some()}>
                                    { if busy == Some(Busy::Deleting) { "Deleting…" } else { "Yes, delete it" } }
                                </button>
                                <button class="quiet" onclick={click(&quote.cancel_delete)}>{ "Keep it" }</button>
                            </div>
                        }
                    } else {
                        html! {
                            <button class="quiet danger-text" disabled={busy.is_some()}
                                onclick={click(&quote.ask_delete)}>{ "Delete quote" }</button>
                        }
                    }
                }
            </section>
        </>
    }
}

/// `time` in the browser's locale and time zone.
fn local_time(time: &chrono::DateTime<chrono::Utc>) -> String {
    #[expect(
        clippy::cast_precision_loss,
        reason = "milliseconds since 1970 fit in f64"
    )]
    let millis = time.timestamp_millis() as f64;
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(millis));
    String::from(date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}
