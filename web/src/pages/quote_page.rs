//! Signed in: who you are, your quote (or an empty state), and the editor.
//! The screen's state is one reducer; every request goes through
//! [`crate::api`], and every failure through its `message`.

use std::rc::Rc;

use quotes_client::types::{Problem, Quote};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::auth::{Session, use_auth};
use crate::components::{Alert, QuoteEditor};

/// What the page is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    Loading,
    Saving,
    Deleting,
}

/// The screen's state.
#[derive(Debug, Clone, Default)]
pub struct QuoteState {
    /// The stored quote, once known.
    pub quote: Option<Quote>,
    pub draft: String,
    pub busy: Option<Busy>,
    pub error: Option<String>,
    pub confirming_delete: bool,
}

/// What happens on the screen.
#[derive(Debug)]
pub enum QuoteAction {
    Start(Busy),
    Loaded(Option<Quote>),
    Saved(Quote),
    Deleted,
    Failed(String),
    Edit(String),
    AskDelete,
    CancelDelete,
}

impl Reducible for QuoteState {
    type Action = QuoteAction;

    fn reduce(self: Rc<Self>, action: QuoteAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            QuoteAction::Start(busy) => {
                next.busy = Some(busy);
                next.error = None;
            }
            QuoteAction::Loaded(quote) => {
                next.draft = quote
                    .as_ref()
                    .map(|q| q.quote.to_string())
                    .unwrap_or_default();
                next.quote = quote;
                next.busy = None;
            }
            QuoteAction::Saved(quote) => {
                next.draft = quote.quote.to_string();
                next.quote = Some(quote);
                next.busy = None;
            }
            QuoteAction::Deleted => {
                next.quote = None;
                next.draft.clear();
                next.busy = None;
                next.confirming_delete = false;
            }
            QuoteAction::Failed(message) => {
                next.error = Some(message);
                next.busy = None;
                next.confirming_delete = false;
            }
            QuoteAction::Edit(text) => next.draft = text,
            QuoteAction::AskDelete => next.confirming_delete = true,
            QuoteAction::CancelDelete => next.confirming_delete = false,
        }
        Rc::new(next)
    }
}

#[derive(Debug, Properties, PartialEq)]
pub struct QuotePageProps {
    pub session: Rc<Session>,
}

#[function_component]
pub fn QuotePage(props: &QuotePageProps) -> Html {
    let auth = use_auth();
    let state = use_reducer(|| QuoteState {
        busy: Some(Busy::Loading),
        ..QuoteState::default()
    });
    let base = auth.config.api_base.clone();
    let token_source = props.session.token_source.clone();
    // A client per call: Clerk's tokens are short-lived and fetched fresh.
    let api = Rc::new(move || {
        let base = base.clone();
        let token_source = token_source.clone();
        async move { api::connect(&base, &token_source).await }
    });
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

    // Failures: a refused token signs out (once, with a notice); anything
    // else is shown.
    let fail = {
        let dispatcher = state.dispatcher();
        let on_token_refused = auth.on_token_refused.clone();
        Callback::from(move |problem: Problem| {
            if api::is_unauthorized(&problem) {
                on_token_refused.emit(());
            } else {
                dispatcher.dispatch(QuoteAction::Failed(api::message(&problem)));
            }
        })
    };

    {
        let dispatcher = state.dispatcher();
        let api = api.clone();
        let fail = fail.clone();
        use_effect_with((), move |()| {
            spawn_local(async move {
                match api().await {
                    Ok(api) => match api.quote().await {
                        Ok(quote) => dispatcher.dispatch(QuoteAction::Loaded(quote)),
                        Err(problem) => fail.emit(problem),
                    },
                    Err(problem) => fail.emit(problem),
                }
            });
        });
    }

    let on_save = {
        let state = state.clone();
        let api = api.clone();
        let fail = fail.clone();
        Callback::from(move |()| {
            if state.busy.is_some() {
                return;
            }
            let api = api.clone();
            let dispatcher = state.dispatcher();
            let text = state.draft.clone();
            let fail = fail.clone();
            dispatcher.dispatch(QuoteAction::Start(Busy::Saving));
            spawn_local(async move {
                let saved = match api().await {
                    Ok(api) => api.save(&text).await,
                    Err(problem) => Err(problem),
                };
                match saved {
                    Ok(quote) => dispatcher.dispatch(QuoteAction::Saved(quote)),
                    Err(problem) => fail.emit(problem),
                }
            });
        })
    };

    let on_delete = {
        let state = state.clone();
        let api = api.clone();
        Callback::from(move |_: MouseEvent| {
            let api = api.clone();
            let dispatcher = state.dispatcher();
            let fail = fail.clone();
            dispatcher.dispatch(QuoteAction::Start(Busy::Deleting));
            spawn_local(async move {
                let deleted = match api().await {
                    Ok(api) => api.delete().await,
                    Err(problem) => Err(problem),
                };
                match deleted {
                    Ok(()) => dispatcher.dispatch(QuoteAction::Deleted),
                    Err(problem) => fail.emit(problem),
                }
            });
        })
    };

    let dispatch = |action: fn() -> QuoteAction| {
        let dispatcher = state.dispatcher();
        Callback::from(move |_: MouseEvent| dispatcher.dispatch(action()))
    };
    let on_input = {
        let dispatcher = state.dispatcher();
        Callback::from(move |text| dispatcher.dispatch(QuoteAction::Edit(text)))
    };
    let sign_out = auth.sign_out.reform(|_: MouseEvent| ());
    let busy = state.busy;

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
                    match (&state.quote, busy) {
                        (_, Some(Busy::Loading)) => html! { <p class="muted">{ "Loading your quote…" }</p> },
                        (Some(quote), _) => html! {
                            <figure class="quote">
                                <blockquote id="current-quote">{ quote.quote.to_string() }</blockquote>
                                <figcaption class="muted">
                                    { format!("Saved {}", local_time(&quote.updated_at)) }
                                </figcaption>
                            </figure>
                        },
                        (None, _) => html! {
                            <p class="empty" id="empty-state">{ "No quote yet. Write the one you want to keep below." }</p>
                        },
                    }
                }
                <Alert message={state.error.clone()} />
                <QuoteEditor value={state.draft.clone()} busy={busy.is_some()}
                    saving={busy == Some(Busy::Saving)} {on_input} {on_save} />
                {
                    if state.quote.is_none() {
                        html! {}
                    } else if state.confirming_delete {
                        html! {
                            <div class="confirm" role="group" aria-label="Confirm deletion">
                                <p>{ "Delete your quote? This cannot be undone." }</p>
                                <button class="danger" onclick={on_delete} disabled={busy.is_some()}>
                                    { if busy == Some(Busy::Deleting) { "Deleting…" } else { "Yes, delete it" } }
                                </button>
                                <button class="quiet" onclick={dispatch(|| QuoteAction::CancelDelete)}>{ "Keep it" }</button>
                            </div>
                        }
                    } else {
                        html! {
                            <button class="quiet danger-text" disabled={busy.is_some()}
                                onclick={dispatch(|| QuoteAction::AskDelete)}>{ "Delete quote" }</button>
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
