//! The quote's text area with its live character counter, counted by the
//! API's rule ([`crate::api::counted_chars`]) so the counter and the API
//! agree. Enter saves, Shift+Enter starts a new line.

use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use crate::api::{MAX_QUOTE_CHARS, counted_chars};

#[derive(Debug, Properties, PartialEq)]
pub struct QuoteEditorProps {
    pub value: String,
    /// Another request is under way: no editing.
    pub busy: bool,
    /// That request is this save.
    pub saving: bool,
    pub on_input: Callback<String>,
    pub on_save: Callback<()>,
}

#[function_component]
pub fn QuoteEditor(props: &QuoteEditorProps) -> Html {
    let count = counted_chars(&props.value);
    let over = count > MAX_QUOTE_CHARS;
    let oninput = props
        .on_input
        .reform(|event: InputEvent| event.target_unchecked_into::<HtmlTextAreaElement>().value());
    let onkeydown = {
        let on_save = props.on_save.clone();
        Callback::from(move |event: KeyboardEvent| {
            if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
                event.prevent_default();
                on_save.emit(());
            }
        })
    };
    let onsubmit = props
        .on_save
        .reform(|event: SubmitEvent| event.prevent_default());
    html! {
        <form class="editor" {onsubmit}>
            <label for="quote-text">{ "Your favourite quote" }</label>
            <textarea id="quote-text" rows="4" value={props.value.clone()}
                aria-describedby="quote-count quote-help" {oninput} {onkeydown}
                readonly={props.busy} />
            <div class="editor-meta">
                <span id="quote-help" class="help">{ "Enter saves, Shift+Enter starts a new line." }</span>
                <span id="quote-count" class={classes!("count", over.then_some("over"))} aria-live="polite">
                    { format!("{count} / {MAX_QUOTE_CHARS}") }
                </span>
            </div>
            <button class="primary" type="submit" disabled={props.busy}>
                { if props.saving { "Saving…" } else { "Save quote" } }
            </button>
        </form>
    }
}
