//! Signed in: who you are, your quote (or an empty state), the editor and
//! the delete confirmation. The requests and the state behind them are
//! [`use_quote`]'s; this page only shows them, wires the buttons, and
//! moves the keyboard focus where the state says.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use yew::prelude::*;

use crate::auth::{Session, use_auth};
use crate::components::{Alert, QuoteEditor};
use crate::hooks::{Busy, Done, Focus, use_quote};
use crate::pages::use_title;

/// The alert's id, for the text area to name when the alert is about it.
const ERROR_ID: &str = "quote-error";

#[derive(Debug, Properties, PartialEq)]
pub struct QuotePageProps {
    pub session: Rc<Session>,
}

#[function_component]
pub fn QuotePage(props: &QuotePageProps) -> Html {
    use_title("Your quote");
    let auth = use_auth();
    let quote = use_quote(props.session.clone());
    let now = use_minute_clock();
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
    let textarea = use_node_ref();
    let keep_button = use_node_ref();
    let delete_button = use_node_ref();
    {
        let refs = (textarea.clone(), keep_button.clone(), delete_button.clone());
        use_effect_with(quote.focus, move |focus| {
            let target = match focus.map(|(to, _)| to) {
                Some(Focus::Editor) => &refs.0,
                Some(Focus::KeepIt) => &refs.1,
                Some(Focus::DeleteButton) => &refs.2,
                None => return,
            };
            if let Some(element) = target.cast::<web_sys::HtmlElement>() {
                let _ = element.focus();
            }
        });
    }

    let click = |callback: &Callback<()>| callback.reform(|_: MouseEvent| ());
    let sign_out = click(&auth.sign_out);
    let busy = quote.busy;
    let on_confirm_key = {
        let cancel = quote.cancel_delete.clone();
        Callback::from(move |event: KeyboardEvent| {
            if event.key() == "Escape" {
                event.prevent_default();
                cancel.emit(());
            }
        })
    };
    let status = match (busy, quote.done) {
        (Some(Busy::Saving), _) => "Saving…",
        (Some(Busy::Deleting), _) => "Deleting…",
        (_, Some(Done::Saved)) => "Saved.",
        (_, Some(Done::Deleted)) => "Your quote was deleted.",
        _ => "",
    };

    html! {
        <>
            <header class="bar">
                <p class="who">{ "Signed in as " }<strong>{ &props.session.name }</strong></p>
                <div class="bar-actions">
                    <div class="user-button" ref={user_button}></div>
                    <button class="quiet" onclick={sign_out}>{ "Sign out" }</button>
                </div>
            </header>
            <section class="card" aria-labelledby="quote-heading"
                aria-busy={(busy == Some(Busy::Loading)).to_string()}>
                <h1 id="quote-heading">{ "Your quote" }</h1>
                {
                    match (&quote.stored, busy) {
                        (_, Some(Busy::Loading)) => html! { <p class="muted">{ "Loading your quote…" }</p> },
                        (Some(stored), _) => html! {
                            <figure class="quote">
                                <blockquote id="current-quote">{ stored.quote.clone() }</blockquote>
                                <figcaption class="muted">
                                    { "Saved " }
                                    <time datetime={iso_time(&stored.updated_at)}
                                        title={local_time(&stored.updated_at)}>
                                        { ago(&stored.updated_at, now) }
                                    </time>
                                </figcaption>
                            </figure>
                        },
                        (None, _) => html! {
                            <p class="empty" id="empty-state">{ "No quote yet. Write the one you want to keep below." }</p>
                        },
                    }
                }
                <Alert message={quote.error.clone()} id={AttrValue::Static(ERROR_ID)} />
                <QuoteEditor value={quote.draft.clone()} busy={busy.is_some()}
                    saving={busy == Some(Busy::Saving)} on_input={quote.edit.clone()}
                    on_save={quote.save.clone()} textarea={textarea}
                    error_id={quote.error_about_text.then_some(AttrValue::Static(ERROR_ID))} />
                <p class="status" role="status">{ status }</p>
                {
                    if quote.stored.is_none() {
                        html! {}
                    } else if quote.confirming_delete {
                        // The safe answer first: it has the focus, and a
                        // stray Enter or Tab never lands on the other one.
                        html! {
                            <div class="confirm" role="group" aria-labelledby="confirm-question"
                                onkeydown={on_confirm_key}>
                                <p id="confirm-question">{ "Delete your quote? This cannot be undone." }</p>
                                <button class="quiet" ref={keep_button}
                                    onclick={click(&quote.cancel_delete)}>{ "Keep it" }</button>
                                <button class="danger" onclick={click(&quote.delete)} disabled={busy.is_some()}>
                                    { if busy == Some(Busy::Deleting) { "Deleting…" } else { "Yes, delete it" } }
                                </button>
                            </div>
                        }
                    } else {
                        html! {
                            <button class="quiet danger-text" disabled={busy.is_some()} ref={delete_button}
                                onclick={click(&quote.ask_delete)}>{ "Delete quote" }</button>
                        }
                    }
                }
            </section>
        </>
    }
}

/// The API's RFC 3339 `time` as the browser's `Date`.
fn date(time: &str) -> js_sys::Date {
    js_sys::Date::new(&wasm_bindgen::JsValue::from_str(time))
}

/// `time` as a machine reads it (ISO 8601), for `<time datetime>`; as the
/// API sent it if the browser cannot read it.
fn iso_time(time: &str) -> String {
    let date = date(time);
    if date.get_time().is_nan() {
        time.to_owned()
    } else {
        String::from(date.to_iso_string())
    }
}

/// `time` in the browser's locale and time zone, in full.
fn local_time(time: &str) -> String {
    String::from(date(time).to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}

/// "just now", "2 minutes ago", "yesterday": how long before `now`
/// (milliseconds since 1970) `time` was, in the browser's language.
fn ago(time: &str, now: f64) -> String {
    let seconds = ((now - date(time).get_time()) / 1000.0).max(0.0);
    let Some((value, unit)) = ago_in_units(seconds) else {
        return "just now".to_owned();
    };
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"numeric".into(), &"auto".into());
    let format = js_sys::Intl::RelativeTimeFormat::new(&js_sys::Array::new(), &options);
    String::from(format.format(-value, unit))
}

/// `seconds` in the largest unit that fits (minutes, hours, days),
/// rounded; `None` under a minute, which reads "just now".
fn ago_in_units(seconds: f64) -> Option<(f64, &'static str)> {
    const MINUTE: f64 = 60.0;
    const HOUR: f64 = 60.0 * MINUTE;
    const DAY: f64 = 24.0 * HOUR;
    if seconds < 45.0 {
        None
    } else if seconds < HOUR - 30.0 {
        Some(((seconds / MINUTE).round().max(1.0), "minute"))
    } else if seconds < DAY - 30.0 * MINUTE {
        Some(((seconds / HOUR).round().max(1.0), "hour"))
    } else {
        Some(((seconds / DAY).round().max(1.0), "day"))
    }
}

/// The time now (milliseconds since 1970), renewed every half minute, so
/// that "2 minutes ago" stays true while the page is open.
#[hook]
fn use_minute_clock() -> f64 {
    let now = use_state(js_sys::Date::now);
    {
        let now = now.clone();
        use_effect_with((), move |()| {
            let tick = Closure::<dyn Fn()>::new(move || now.set(js_sys::Date::now()));
            let window = web_sys::window();
            let id = window.as_ref().and_then(|window| {
                window
                    .set_interval_with_callback_and_timeout_and_arguments_0(
                        tick.as_ref().unchecked_ref(),
                        30_000,
                    )
                    .ok()
            });
            move || {
                if let (Some(window), Some(id)) = (window, id) {
                    window.clear_interval_with_handle(id);
                }
                drop(tick);
            }
        });
    }
    *now
}

#[cfg(test)]
mod tests {
    use super::ago_in_units;

    #[test]
    fn times_are_told_in_the_largest_unit_that_fits() {
        assert_eq!(ago_in_units(10.0), None);
        assert_eq!(ago_in_units(50.0), Some((1.0, "minute")));
        assert_eq!(ago_in_units(150.0), Some((3.0, "minute")));
        assert_eq!(ago_in_units(3600.0), Some((1.0, "hour")));
        assert_eq!(ago_in_units(5.0 * 3600.0), Some((5.0, "hour")));
        assert_eq!(ago_in_units(86_400.0), Some((1.0, "day")));
        assert_eq!(ago_in_units(3.0 * 86_400.0), Some((3.0, "day")));
    }
}
