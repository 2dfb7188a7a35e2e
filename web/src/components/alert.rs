//! An error or notice people must not miss (`role="alert"`).

use yew::prelude::*;

#[derive(Debug, Properties, PartialEq)]
pub struct AlertProps {
    pub message: Option<String>,
    /// For a field that names it in `aria-describedby`.
    #[prop_or_default]
    pub id: Option<AttrValue>,
}

/// Shows `message` in a live region; nothing when there is none.
#[function_component]
pub fn Alert(props: &AlertProps) -> Html {
    match &props.message {
        Some(message) => html! {
            <p class="alert" role="alert" id={props.id.clone()}>{ message }</p>
        },
        None => html! {},
    }
}
