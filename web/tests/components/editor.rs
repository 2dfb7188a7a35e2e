//! The quote editor: its live counter, its button, and its keys.

use quotes_web::components::QuoteEditor;
use wasm_bindgen_test::wasm_bindgen_test;
use yew::prelude::*;

use crate::support::{Calls, click, mount, press, type_into};

#[derive(Debug, PartialEq, Properties)]
struct HarnessProps {
    #[prop_or_default]
    busy: bool,
    #[prop_or_default]
    saving: bool,
    saves: Calls,
}

/// The editor as a page holds it: the draft in state, saves counted.
#[function_component]
fn Harness(props: &HarnessProps) -> Html {
    let draft = use_state(String::new);
    let on_input = {
        let draft = draft.clone();
        Callback::from(move |text| draft.set(text))
    };
    html! {
        <QuoteEditor value={(*draft).clone()} busy={props.busy} saving={props.saving}
            {on_input} on_save={props.saves.callback()} />
    }
}

fn idle(saves: &Calls) -> HarnessProps {
    HarnessProps {
        busy: false,
        saving: false,
        saves: saves.clone(),
    }
}

#[wasm_bindgen_test]
async fn the_counter_follows_the_text_as_the_api_counts_it() {
    let page = mount::<Harness>(idle(&Calls::default())).await;
    assert_eq!(page.text("#quote-count"), "0 / 1000");

    // Surrounding whitespace is trimmed; characters, not bytes, count.
    type_into(&page.textarea(), "  Ça va, café?  \n").await;
    assert_eq!(page.text("#quote-count"), "12 / 1000");
    assert!(!page.get("#quote-count").class_list().contains("over"));
}

#[wasm_bindgen_test]
async fn a_quote_over_the_limit_is_marked() {
    let page = mount::<Harness>(idle(&Calls::default())).await;
    type_into(&page.textarea(), &"é".repeat(1000)).await;
    assert_eq!(page.text("#quote-count"), "1000 / 1000");
    assert!(!page.get("#quote-count").class_list().contains("over"));

    assert_eq!(
        page.textarea().get_attribute("aria-invalid").as_deref(),
        Some("false")
    );

    type_into(&page.textarea(), &"é".repeat(1001)).await;
    assert_eq!(page.text("#quote-count"), "1001 / 1000 — 1 over the limit");
    assert!(page.get("#quote-count").class_list().contains("over"));
    assert_eq!(
        page.textarea().get_attribute("aria-invalid").as_deref(),
        Some("true")
    );
    assert!(
        page.button("Save quote").has_attribute("disabled"),
        "Save is off: the API would refuse the text"
    );
}

#[wasm_bindgen_test]
async fn enter_saves_nothing_over_the_limit() {
    let saves = Calls::default();
    let page = mount::<Harness>(idle(&saves)).await;
    type_into(&page.textarea(), &"x".repeat(1001)).await;
    press(&page.textarea(), "Enter", false).await;
    assert_eq!(saves.count(), 0);
    type_into(&page.textarea(), &"x".repeat(1000)).await;
    press(&page.textarea(), "Enter", false).await;
    assert_eq!(saves.count(), 1);
}

#[wasm_bindgen_test]
async fn save_is_enabled_until_a_request_is_under_way() {
    let saves = Calls::default();
    let idle_page = mount::<Harness>(idle(&saves)).await;
    let save = idle_page.button("Save quote");
    assert!(!save.has_attribute("disabled"));
    assert!(!idle_page.textarea().read_only());
    click(&save).await;
    assert_eq!(saves.count(), 1, "the button submits the form");
    drop(idle_page);

    let saving = mount::<Harness>(HarnessProps {
        busy: true,
        saving: true,
        saves: saves.clone(),
    })
    .await;
    assert!(saving.button("Saving…").has_attribute("disabled"));
    assert!(saving.textarea().read_only());
    drop(saving);

    let deleting = mount::<Harness>(HarnessProps {
        busy: true,
        saving: false,
        saves: saves.clone(),
    })
    .await;
    assert!(deleting.button("Save quote").has_attribute("disabled"));
}

#[wasm_bindgen_test]
async fn enter_saves_and_shift_enter_starts_a_new_line() {
    let saves = Calls::default();
    let page = mount::<Harness>(idle(&saves)).await;
    type_into(
        &page.textarea(),
        "Simplicity is prerequisite for reliability.",
    )
    .await;

    let taken = press(&page.textarea(), "Enter", true).await;
    assert!(!taken, "Shift+Enter is left to the text area");
    assert_eq!(saves.count(), 0);

    let taken = press(&page.textarea(), "Enter", false).await;
    assert!(taken, "Enter does not also insert a newline");
    assert_eq!(saves.count(), 1);

    press(&page.textarea(), "a", false).await;
    assert_eq!(saves.count(), 1, "other keys do not save");
}
