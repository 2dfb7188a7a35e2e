//! Mounting components, waiting for them, acting on them, and a stand-in
//! for `fetch` so requests get answers the test chooses.

use std::rc::Rc;
use std::time::Duration;

use quotes_web::auth::oidc::OidcSettings;
use quotes_web::auth::{Auth, AuthStatus};
use quotes_web::config::{AppConfig, Provider};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, HtmlElement, HtmlTextAreaElement};
use yew::{AppHandle, BaseComponent, Callback, Renderer};

/// A component rendered into a `<div>` of the document; removed on drop.
pub struct Mounted<C: BaseComponent> {
    handle: Option<AppHandle<C>>,
    root: Element,
}

/// Renders `C` with `props` and lets it settle, in a tab with nothing in
/// `sessionStorage` (no draft or marker left by another test).
pub async fn mount<C: BaseComponent>(props: C::Properties) -> Mounted<C> {
    session_storage().clear().expect("storage cleared");
    mount_as_is(props).await
}

/// Renders `C` with `props` and lets it settle, with `sessionStorage` as
/// the test left it.
pub async fn mount_as_is<C: BaseComponent>(props: C::Properties) -> Mounted<C> {
    let document = document();
    let root = document.create_element("div").expect("a div");
    document
        .body()
        .expect("a body")
        .append_child(&root)
        .expect("the div is added");
    let handle = Renderer::<C>::with_root_and_props(root.clone(), props).render();
    yew::scheduler::flush().await;
    Mounted {
        handle: Some(handle),
        root,
    }
}

impl<C: BaseComponent> Mounted<C> {
    /// The first element matching `selector`, if any.
    pub fn find(&self, selector: &str) -> Option<Element> {
        self.root
            .query_selector(selector)
            .expect("a valid selector")
    }

    /// The first element matching `selector`.
    pub fn get(&self, selector: &str) -> Element {
        self.find(selector)
            .unwrap_or_else(|| panic!("no `{selector}` in {}", self.root.inner_html()))
    }

    /// The text of the first element matching `selector`, trimmed.
    pub fn text(&self, selector: &str) -> String {
        self.get(selector)
            .text_content()
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    /// The first `<button>` whose text is `label`.
    pub fn button(&self, label: &str) -> HtmlElement {
        let buttons = self.root.query_selector_all("button").expect("buttons");
        (0..buttons.length())
            .filter_map(|i| buttons.item(i))
            .filter_map(|node| node.dyn_into::<HtmlElement>().ok())
            .find(|button| button.text_content().unwrap_or_default().trim() == label)
            .unwrap_or_else(|| panic!("no `{label}` button in {}", self.root.inner_html()))
    }

    /// The quote's text area.
    pub fn textarea(&self) -> HtmlTextAreaElement {
        self.get("textarea").unchecked_into()
    }

    /// Waits until `ready` holds, rendering in between; fails after a few
    /// seconds with the page's HTML.
    pub async fn until(&self, what: &str, ready: impl Fn(&Self) -> bool) {
        for _ in 0..200 {
            yew::scheduler::flush().await;
            if ready(self) {
                return;
            }
            yew::platform::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("timed out waiting for {what}: {}", self.root.inner_html());
    }
}

impl<C: BaseComponent> Drop for Mounted<C> {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.destroy();
        }
        self.root.remove();
    }
}

pub fn session_storage() -> web_sys::Storage {
    web_sys::window()
        .and_then(|window| window.session_storage().ok().flatten())
        .expect("session storage")
}

pub fn document() -> web_sys::Document {
    web_sys::window()
        .and_then(|window| window.document())
        .expect("a document")
}

/// Types `text` into `field` as a person would: new value, then `input`.
pub async fn type_into(field: &HtmlTextAreaElement, text: &str) {
    field.set_value(text);
    let init = web_sys::InputEventInit::new();
    init.set_bubbles(true);
    let event = web_sys::InputEvent::new_with_event_init_dict("input", &init).expect("an event");
    field.dispatch_event(&event).expect("dispatched");
    yew::scheduler::flush().await;
}

/// Presses `key` (with Shift or not) in `field`; true when the app took it
/// (prevented the browser's default).
pub async fn press(field: &Element, key: &str, shift: bool) -> bool {
    let init = web_sys::KeyboardEventInit::new();
    init.set_key(key);
    init.set_shift_key(shift);
    init.set_bubbles(true);
    init.set_cancelable(true);
    let event = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init)
        .expect("an event");
    let not_cancelled = field.dispatch_event(&event).expect("dispatched");
    yew::scheduler::flush().await;
    !not_cancelled
}

/// Clicks `element` and lets the app react.
pub async fn click(element: &HtmlElement) {
    element.click();
    yew::scheduler::flush().await;
}

/// An OpenID Connect configuration with the API at `api_base`.
pub fn oidc_config(api_base: &str) -> Rc<AppConfig> {
    Rc::new(AppConfig {
        api_base: api_base.to_owned(),
        provider: Provider::Oidc(OidcSettings {
            issuer: "https://id.example.test".to_owned(),
            client_id: "quotes-web".to_owned(),
            scopes: "openid profile".to_owned(),
            audience: None,
        }),
    })
}

/// An auth context with `status` whose callbacks do nothing.
pub fn auth(status: AuthStatus) -> Auth {
    Auth {
        status,
        config: oidc_config("https://api.example.test"),
        clerk: None,
        sign_in: Callback::noop(),
        sign_out: Callback::noop(),
        on_token_refused: Callback::noop(),
    }
}

/// Counts calls of the callbacks it makes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Calls(Rc<std::cell::Cell<u32>>);

impl Calls {
    pub fn callback<T: 'static>(&self) -> Callback<T> {
        let count = self.0.clone();
        Callback::from(move |_| count.set(count.get() + 1))
    }

    pub fn count(&self) -> u32 {
        self.0.get()
    }
}

/// While alive, `fetch` answers from a table instead of the network:
/// `"METHOD /path"` to `[status, content type, body]`. A route given more
/// than once answers in that order, the last answer from then on.
/// Anything else gets a 599. Every request is recorded as `"METHOD /path
/// authorization"`, and a form's body after that.
pub struct FakeFetch {
    original: JsValue,
}

impl FakeFetch {
    pub fn new(routes: &[(&str, u16, &str, &str)]) -> Self {
        let table = js_sys::Object::new();
        for (route, status, content_type, body) in routes {
            let answer = js_sys::Array::of3(
                &JsValue::from(*status),
                &JsValue::from(*content_type),
                &JsValue::from(*body),
            );
            let key = JsValue::from(*route);
            let answers = js_sys::Reflect::get(&table, &key)
                .ok()
                .filter(JsValue::is_object)
                .map_or_else(js_sys::Array::new, |answers| js_sys::Array::from(&answers));
            answers.push(&answer);
            js_sys::Reflect::set(&table, &key, &answers).expect("set");
        }
        let global = js_sys::global();
        let original = js_sys::Reflect::get(&global, &"fetch".into()).expect("fetch");
        let install = js_sys::Function::new_with_args(
            "table",
            "globalThis.__requests = [];
             globalThis.fetch = async (input, init) => {
               const request = new Request(input, init);
               const path = new URL(request.url).pathname;
               const key = `${request.method} ${path}`;
               const form = (request.headers.get('content-type') ?? '')
                 .startsWith('application/x-www-form-urlencoded');
               const sent = form ? ` ${await request.clone().text()}` : '';
               globalThis.__requests.push(`${key} ${request.headers.get('authorization') ?? ''}${sent}`);
               const answers = table[key] ?? [[599, 'text/plain', 'no route']];
               const [status, type, body] = answers.length > 1 ? answers.shift() : answers[0];
               const response = new Response(status === 204 ? null : body,
                                             { status, headers: { 'content-type': type } });
               return response;
             };",
        );
        install.call1(&JsValue::NULL, &table).expect("installed");
        Self { original }
    }

    /// The requests made so far.
    #[expect(
        clippy::unused_self,
        reason = "the log is the installed stand-in's: read it through the stand-in"
    )]
    pub fn requests(&self) -> Vec<String> {
        let requests =
            js_sys::Reflect::get(&js_sys::global(), &"__requests".into()).expect("requests");
        js_sys::Array::from(&requests)
            .iter()
            .filter_map(|request| request.as_string())
            .collect()
    }
}

impl Drop for FakeFetch {
    fn drop(&mut self) {
        let _ = js_sys::Reflect::set(&js_sys::global(), &"fetch".into(), &self.original);
    }
}
