//! The quote's text area with its character counter, counted by the API's
//! rule ([`crate::api::counted_chars`]) so the counter and the API agree.
//! Enter saves, Shift+Enter starts a new line. Over the limit the field is
//! marked invalid and Save is off: the API would refuse it anyway.

use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use crate::api::{MAX_QUOTE_CHARS, counted_chars};

/// Left to type when the counter starts being read out: far from the
/// limit, a screen reader saying the count at every key is only noise.
const ANNOUNCE_WITHIN: usize = 50;

#[derive(Debug, Properties, PartialEq)]
pub struct QuoteEditorProps {
    pub value: String,
    /// Another request is under way: no editing.
    pub busy: bool,
    /// That request is this save.
    pub saving: bool,
    pub on_input: Callback<String>,
    pub on_save: Callback<()>,
    /// The text area, for the page to move focus to.
    #[prop_or_default]
    pub textarea: NodeRef,
    /// The id of a message about this text (the API refused it), which
    /// then describes the field and marks it invalid.
    #[prop_or_default]
    pub error_id: Option<AttrValue>,
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
                if !over {
                    on_save.emit(());
                }
            }
        })
    };
    let onsubmit = props
        .on_save
        .reform(|event: SubmitEvent| event.prevent_default());
    let mut described_by = String::from("quote-count quote-help");
    if let Some(id) = &props.error_id {
        described_by.push(' ');
        described_by.push_str(id);
    }
    let invalid = over || props.error_id.is_some();
    html! {
        <form class="editor" {onsubmit}>
            <label for="quote-text">{ "Quote text" }</label>
            <textarea id="quote-text" rows="4" value={props.value.clone()} ref={props.textarea.clone()}
                aria-describedby={described_by} aria-invalid={invalid.to_string()}
                {oninput} {onkeydown} readonly={props.busy} />
            <div class="editor-meta">
                <span id="quote-count" class={classes!("count", over.then_some("over"))}>
                    { format!("{count} / {MAX_QUOTE_CHARS}") }
                    if over {
                        { format!(" — {} over the limit", count - MAX_QUOTE_CHARS) }
                    }
                </span>
                <span id="quote-help" class="help">{ "Enter saves, Shift+Enter starts a new line." }</span>
            </div>
            <span class="visually-hidden" aria-live="polite">{ near_limit(count) }</span>
            <button class="primary" type="submit" disabled={props.busy || over}>
                { if props.saving { "Saving…" } else { "Save quote" } }
            </button>
        </form>
    }
}

/// What the counter's live region says: nothing until the limit is near.
fn near_limit(count: usize) -> String {
    match MAX_QUOTE_CHARS.checked_sub(count) {
        None => format!(
            "{} characters over the limit of {MAX_QUOTE_CHARS}",
            count - MAX_QUOTE_CHARS
        ),
        Some(left) if left <= ANNOUNCE_WITHIN => format!("{left} characters left"),
        Some(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::near_limit;

    #[test]
    fn the_count_is_read_out_only_near_the_limit() {
        assert_eq!(near_limit(0), "");
        assert_eq!(near_limit(949), "");
        assert_eq!(near_limit(950), "50 characters left");
        assert_eq!(near_limit(1000), "0 characters left");
        assert_eq!(near_limit(1003), "3 characters over the limit of 1000");
    }
}
